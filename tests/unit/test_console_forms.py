"""How the console reads what people type into its forms before the API judges it: lines
of repeated fields, counts kept as typed when they are not whole numbers (the API answers
what is wrong with them, by the field), and the page after a command."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.datastructures import FormData

from console.web import form_lines, just_done, typed_count


def test_lines_are_those_with_a_sku_and_their_counts_whole_numbers_or_as_typed():
    form = FormData(
        [
            ("sku", "WULIANGYE-52-500ML"),
            ("good", "2"),
            ("damaged", "1"),
            ("sku", " JIANNANCHUN-52-500ML "),
            ("good", "two"),
            ("damaged", ""),
            ("sku", ""),
            ("good", "5"),
            ("damaged", "0"),
        ]
    )
    assert form_lines(form, "sku", "good", "damaged") == [
        {"sku": "WULIANGYE-52-500ML", "good": 2, "damaged": 1},
        {"sku": "JIANNANCHUN-52-500ML", "good": "two", "damaged": ""},
    ]


def test_a_count_is_a_whole_number_or_what_was_typed():
    assert typed_count("12") == 12
    assert typed_count("-3") == -3
    assert typed_count("1.5") == "1.5"


def test_the_page_after_a_command_reads_at_its_position_and_marks_what_it_did():
    query = parse_qs(just_done("finance:42", done="c0ffee"))
    assert query == {"min_position": ["finance:42"], "done": ["c0ffee"]}
    assert parse_qs(just_done(None, done="c0ffee")) == {"done": ["c0ffee"]}
