"""What the platform refused, said in the user's language.

The APIs answer in English: a refusal's ``detail`` says what was wrong with this request
(which SKU, how much was available), and its ``code`` what kind of refusal it is. A schema
error adds its ``type`` (pydantic's), the constraint's figures (``context``) and, for a
pattern the platform names, its ``format``. In Chinese the console says the kind of refusal
in Chinese and keeps the API's detail beside it (its codes and figures read the same); a
schema error is said wholly in Chinese. In English the API's words are shown as they are.
A code missing here is shown as the API said it (tests/unit/test_console_refusals.py keeps
every code the services raise in the catalogue).
"""

from __future__ import annotations

from typing import Any

# The kind of refusal, by the problem's `code`.
REFUSALS_ZH: dict[str, str] = {
    # -- requests, sessions, the platform --
    "invalid_request": "填写的内容有误",
    "request_rule_violated": "填写的内容不符合业务规则",
    "not_found": "找不到该页面或记录",
    "method_not_allowed": "不支持此操作",
    "http_error": "请求未能处理",
    "outside_scope": "超出您的管理范围",
    "forbidden_role": "您的角色不能执行此操作",
    "invalid_credentials": "用户名或密码错误",
    "too_many_sign_in_attempts": "密码错误次数过多，该用户暂时不能登录，请稍后再试",
    "unauthenticated": "请先登录",
    "invalid_api_key": "登录已失效，请重新登录",
    "invalid_session": "登录已失效，请重新登录",
    "identity_not_ready": "身份服务尚未就绪，请稍后再试",
    "csrf_failed": "页面已过期，请刷新后重试",
    "invalid_cursor": "分页位置无效，请从第一页重新查看",
    "idempotency_key_required": "请求缺少幂等键",
    "idempotency_key_reused": "同一幂等键已用于内容不同的请求",
    "concurrent_update": "同一请求正在处理中，请稍后再试",
    "database_unavailable": "数据库暂时无法应答，本次操作未生效，请稍后再试",
    "read_model_behind": "数据仍在更新中，请稍后刷新",
    "not_caught_up": "预警数据仍在更新中，请稍后刷新",
    "position_not_tracked": "该查询不跟踪此服务的位置",
    "request_timeout": "请求超时",
    "request_too_large": "提交的内容过大",
    "uri_too_long": "链接过长",
    "request_header_fields_too_large": "请求头过大",
    "invalid_http_request": "请求格式有误",
    "domain_error": "业务规则不允许此操作",
    # -- master data and organisation --
    "unknown_dealer": "找不到该经销商",
    "unknown_sku": "找不到该产品",
    "unknown_branch": "找不到该分公司",
    "unknown_region": "找不到该大区",
    "unknown_category": "找不到该品类",
    "unknown_warehouse": "找不到该仓库",
    "unknown_salesperson": "找不到该业务员",
    "dealer_already_registered": "该经销商已登记",
    "product_already_registered": "该产品已登记",
    "branch_already_registered": "该分公司已登记",
    "region_already_registered": "该大区已登记",
    "warehouse_already_registered": "该仓库已登记",
    "salesperson_already_registered": "该业务员已登记",
    "branch_not_in_region": "该分公司不属于这个大区",
    "category_cycle": "品类层级不能形成循环",
    "branch_required": "须指定分公司",
    "dealer_required": "须指定经销商",
    "salesperson_of_other_branch": "该业务员属于其他分公司",
    # -- orders, prices, promotions --
    "unknown_order": "找不到该订单",
    "unknown_promotion": "找不到该促销",
    "invalid_quantity": "数量无效",
    "invalid_price": "价格无效",
    "invalid_promotion": "促销设置无效",
    "duplicate_sku": "同一产品在单据中出现了多次",
    "order_too_large": "订单的行数或数量超出上限",
    "price_backdated": "价格不能从已有订单的日期之前生效（已下的订单保持下单时的价格）",
    "promotion_already_defined": "该促销已定义",
    "promotion_backdated": "促销不能从已有订单的日期之前生效（已下的订单保持下单时的价格）",
    "promotion_overlaps": "与同一产品的其他促销时间重叠",
    "invalid_transition": "单据当前的状态不允许此操作",
    "credit_limit_exceeded": "超出信用额度",
    # -- stock, shipments, transfers, stocktakes, consignment --
    "unknown_shipment": "找不到该发货单",
    "unknown_transfer": "找不到该调拨单",
    "unknown_stocktake": "找不到该盘点单",
    "insufficient_stock": "可用库存不足",
    "insufficient_damaged_stock": "残次品库存不足",
    "stock_reserved": "库存将低于已为订单预留的数量（请先释放或发货）",
    "invalid_unit_cost": "单位成本无效",
    "over_shipment": "发货数量超过为订单预留的数量",
    "invalid_transfer_route": "调拨路线无效",
    "not_on_transfer": "该产品不在调拨单上",
    "discrepancy_reason_required": "实收数量与发出数量不同，须填写差异原因",
    "discrepancy_reason_mismatch": "差异原因与实收数量不符",
    "not_on_count_sheet": "该产品不在盘点表上",
    "count_incomplete": "盘点表尚未全部录入",
    "variance_reason_required": "盘点差异须填写原因",
    "not_a_consignment_warehouse": "该仓库不是代销仓",
    "sell_through_already_reported": "该期间的代销售出已上报",
    # -- returns --
    "unknown_return": "找不到该退货单",
    "not_on_return": "该产品不在退货单上",
    "return_exceeds_shipped": "退货数量超过已发货数量",
    "return_over_receipt": "入库数量超过退货单的数量",
    "returned_quantity_exceeds_invoiced": "退货数量超过已开票数量",
    # -- finance: credit, invoices, cash, credit notes, cut-over --
    "unknown_account": "找不到该经销商的账户",
    "unknown_invoice": "找不到该发票",
    "invalid_amount": "金额无效",
    "invalid_terms": "信用条件无效",
    "invalid_period": "期间无效",
    "invalid_month": "月份无效",
    "invalid_business_date": "业务日期无效",
    "over_allocation": "分配金额超过收款金额或发票的未结余额",
    "cash_application_exceeds_on_account": "核销金额超过该经销商的预收款余额",
    "cash_application_exceeds_open": "核销金额超过发票的未结余额",
    "credit_note_exceeds_open_balance": "贷项通知的金额超过发票的未结余额",
    "invalid_health_rules": "渠道健康规则无效",
    "cut_over_closed": "已有业务发生，期初数据须在业务之前录入（总部可重新开放期初切换）",
    "opening_already_recorded": "期初数据已录入",
    "settled_on_in_future": "结算日期不能晚于今天",
    # -- bulk imports --
    "import_rows_invalid": "导入文件中有错误的行，未写入任何数据",
    "import_rows_refused": "部分行在写入时被拒绝",
    # -- rebates --
    "unknown_rebate_policy": "找不到该返利政策",
    "unknown_rebate_claim": "找不到该返利申请",
    "invalid_rebate_policy": "返利政策无效",
    "rebate_policy_already_defined": "该返利政策已定义",
    "rebate_period_not_ended": "返利期间尚未结束",
    "nothing_to_settle": "没有可结算的返利",
    "rebate_claim_exceeds_pool": "返利申请金额超过可用返利池",
    "rebate_claim_self_approval": "不能审批自己提交的返利申请",
    # -- plans and targets --
    "unknown_demand_plan": "找不到该要货计划",
    "demand_plan_exists": "该月的要货计划已存在",
    "invalid_target_levels": "目标档位无效（保底、目标、冲刺须依次递增）",
    "national_target_not_set": "全国目标尚未设定",
    "branch_target_not_set": "分公司目标尚未设定",
    "allocation_exceeds_target": "分配给下级的目标合计超过了本级目标",
    "target_below_allocations": "目标低于已分配给下级的目标合计",
    # -- users and keys --
    "unknown_user": "找不到该用户",
    "unknown_api_key": "找不到该 API 密钥",
    "user_already_exists": "该用户名已存在",
    "user_disabled": "该用户已停用",
    "user_already_disabled": "该用户已停用",
    "user_not_disabled": "该用户未停用",
    "api_key_already_revoked": "该 API 密钥已吊销",
    "cannot_disable_oneself": "不能停用自己的账号",
    "weak_password": "密码强度不够",
    # -- warnings and webhooks --
    "unknown_warning": "找不到该预警",
    "unknown_rule": "找不到该预警规则",
    "unknown_webhook": "找不到该 Webhook",
    "warning_resolved": "该预警已解决",
    "warning_acknowledged": "该预警已确认",
    "warning_not_raised": "该预警尚未触发",
    "webhook_already_registered": "该地址的 Webhook 已登记",
    "assignee_outside_scope": "被指派人无权查看该预警",
    "threshold_out_of_range": "阈值超出该规则允许的范围",
}

# A schema error, by pydantic's `type`, with the constraint's figures from `context`.
SCHEMA_ERRORS_ZH: dict[str, str] = {
    "missing": "必填",
    "greater_than": "须大于 {gt}",
    "greater_than_equal": "须不小于 {ge}",
    "less_than": "须小于 {lt}",
    "less_than_equal": "须不大于 {le}",
    "string_too_short": "至少 {min_length} 个字符",
    "string_too_long": "最多 {max_length} 个字符",
    "too_short": "至少 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "int_parsing": "须为整数",
    "int_type": "须为整数",
    "int_from_float": "须为整数",
    "decimal_parsing": "须为数字",
    "decimal_type": "须为数字",
    "float_parsing": "须为数字",
    "decimal_max_places": "最多 {decimal_places} 位小数",
    "decimal_max_digits": "最多 {max_digits} 位数字",
    "date_parsing": "须为日期，如 2026-11-30",
    "date_from_datetime_parsing": "须为日期，如 2026-11-30",
    "date_type": "须为日期，如 2026-11-30",
    "enum": "须为以下之一：{expected}",
    "literal_error": "须为以下之一：{expected}",
    "string_type": "须为文本",
    "bool_parsing": "须为是或否",
    "uuid_parsing": "编号格式不正确",
    "uuid_type": "编号格式不正确",
    "extra_forbidden": "不接受此字段",
    "nul_character": "不能包含空字符",
    "json_invalid": "提交的内容不是有效的 JSON",
    "string_pattern_mismatch": "格式不正确",
    # The platform's own (runtime/http/schemas.py, the finance API).
    "date_format": "须为日期，如 2026-11-30",
    "ratio_format": "须为 {ge} 至 {le} 的小数，最多 4 位小数",
    "ratio_format_above": "须为大于 {gt}、不超过 {le} 的小数，最多 4 位小数",
    "after_today": "不能晚于今天",
}

# A text that does not match a pattern the platform names, by the error's `format`.
FORMATS_ZH: dict[str, str] = {
    "code": "须为由大写字母、数字和连字符组成的编码，如 CD-001 或 WULIANGYE-52-500ML"
    "（最多 64 个字符）",
    "money": "须为以元为单位、最多两位小数的金额，如 1299.00",
    "month": "须为 YYYY-MM 格式的月份，如 2026-11",
    "not_blank": "不能只有空格",
    "position": "须为操作返回的位置，如 orders:42",
    "username": "须为 3 至 64 个小写字母、数字、点、连字符或下划线，以字母开头，如 cd.clerk",
}


def refusal_text(problem: dict[str, Any], lang: str) -> str:
    """A refusal's message: in Chinese its kind, with the API's detail beside it."""
    detail = str(problem.get("detail") or problem.get("code") or "")
    kind = REFUSALS_ZH.get(str(problem.get("code", ""))) if lang == "zh" else None
    if kind is None:
        return detail
    return f"{kind}（{detail}）" if detail and detail != problem.get("code") else kind


def schema_error_text(item: dict[str, Any], lang: str) -> str:
    """A schema error's message, wholly in Chinese when the catalogue says it."""
    message = str(item.get("message", ""))
    if lang != "zh":
        return message
    if item.get("type") == "string_pattern_mismatch" and item.get("format") in FORMATS_ZH:
        return FORMATS_ZH[item["format"]]
    kind = str(item.get("type", ""))
    context = dict(item.get("context") or {})
    if kind == "ratio_format" and "gt" in context:
        kind = "ratio_format_above"
    template = SCHEMA_ERRORS_ZH.get(kind)
    if template is None:
        return message
    if "expected" in context:  # pydantic's "'branch', 'dealer' or 'sku'"
        context["expected"] = str(context["expected"]).replace(" or ", ", ").replace(", ", "、")
    try:
        return template.format(**context)
    except (KeyError, IndexError, ValueError):
        return message
