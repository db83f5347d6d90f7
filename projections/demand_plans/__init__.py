"""Demand plans (要货计划) against what dealers actually ordered, per month."""
