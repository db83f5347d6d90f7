"""The console's message catalogues (Simplified Chinese by default, English) and the formats
people in China read: money as ¥1,234.56 (Decimal, never float), dates in China time."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")
LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

MESSAGES: dict[str, dict[str, str]] = {
    "zh": {
        "title": "分销管理平台",
        "sign_in": "登录",
        "sign_out": "退出",
        "username": "用户名",
        "password": "密码",
        "invalid_credentials": "用户名或密码错误",
        "too_many_attempts": "密码错误次数过多，该用户暂时不能登录，请稍后再试",
        "dashboard": "总部看板",
        "orders": "订单",
        "new_order": "下单",
        "statement": "对账单",
        "sales_by_month_region": "按月份和大区的销售额",
        "figures": "查看数据",
        "month": "月份",
        "region": "大区",
        "branch": "分公司",
        "net_sales": "净销售额",
        "status": "状态",
        "all": "全部",
        "filter": "筛选",
        "dealer": "经销商",
        "date": "业务日期",
        "total": "金额",
        "next_page": "下一页",
        "sku": "产品编码",
        "quantity": "数量",
        "place_order": "提交订单",
        "approve": "批准",
        "reject": "驳回",
        "cancel": "取消",
        "actions": "操作",
        "forbidden": "无权访问",
        "forbidden_text": "您的角色和范围不能查看此页面。",
        "order": "订单",
        "credit_limit": "信用额度",
        "receivable": "应收账款",
        "aging": "账龄",
        "as_of": "截至",
        "language": "English",
        "no_rows": "暂无数据",
        "error": "出错了",
        "aging_by_region": "各大区应收账龄",
        "channel_health": "各分公司渠道健康",
        "red_dealers": "红灯经销商及原因",
        "reasons": "原因",
        "green": "绿灯",
        "yellow": "黄灯",
        "red": "红灯",
        "not_yet_due": "未到期",
        "days_1_30": "逾期1-30天",
        "days_31_60": "逾期31-60天",
        "days_61_90": "逾期61-90天",
        "over_90": "逾期90天以上",
        "credit_utilisation": "信用占用率过高",
        "over_90_days": "逾期90天以上应收",
        "undelivered_shipments": "发货未确认签收",
        "queue": "待审批",
        "my_orders": "我的订单",
        "order_placed": "订单已提交：",
        "invoiced": "已开票",
        "received": "已收款",
        "credited": "已红冲",
        "rebate_credited": "返利抵扣",
        "receivables": "应收余额",
        "reserved": "已占用额度",
        "exposure": "信用敞口",
        "open_invoices": "未结清发票",
        "unapplied_cash": "未核销收款",
        "invoice": "发票号",
        "issue_date": "开票日期",
        "due_date": "到期日",
        "open": "未结金额",
    },
    "en": {
        "title": "Distribution platform",
        "sign_in": "Sign in",
        "sign_out": "Sign out",
        "username": "User name",
        "password": "Password",
        "invalid_credentials": "User name or password is wrong",
        "too_many_attempts": "Too many wrong passwords: this user is locked for a while",
        "dashboard": "HQ dashboard",
        "orders": "Orders",
        "new_order": "New order",
        "statement": "Statement",
        "sales_by_month_region": "Sales by month and region",
        "figures": "Figures",
        "month": "Month",
        "region": "Region",
        "branch": "Branch",
        "net_sales": "Net sales",
        "status": "Status",
        "all": "All",
        "filter": "Filter",
        "dealer": "Dealer",
        "date": "Business date",
        "total": "Total",
        "next_page": "Next page",
        "sku": "SKU",
        "quantity": "Quantity",
        "place_order": "Place order",
        "approve": "Approve",
        "reject": "Reject",
        "cancel": "Cancel",
        "actions": "Actions",
        "forbidden": "Not allowed",
        "forbidden_text": "Your role and scope may not see this page.",
        "order": "Order",
        "credit_limit": "Credit limit",
        "receivable": "Receivable",
        "aging": "Aging",
        "as_of": "As of",
        "language": "中文",
        "no_rows": "Nothing yet",
        "error": "Something went wrong",
        "aging_by_region": "AR aging by region",
        "channel_health": "Channel health by branch",
        "red_dealers": "Red dealers and their reasons",
        "reasons": "Reasons",
        "green": "Green",
        "yellow": "Yellow",
        "red": "Red",
        "not_yet_due": "Not yet due",
        "days_1_30": "1-30 days overdue",
        "days_31_60": "31-60 days overdue",
        "days_61_90": "61-90 days overdue",
        "over_90": "Over 90 days overdue",
        "credit_utilisation": "Credit utilisation",
        "over_90_days": "Receivables over 90 days past due",
        "undelivered_shipments": "Shipments not confirmed delivered",
        "queue": "Awaiting decision",
        "my_orders": "My orders",
        "order_placed": "Order placed:",
        "invoiced": "Invoiced",
        "received": "Received",
        "credited": "Credited",
        "rebate_credited": "Rebates credited",
        "receivables": "Receivables",
        "reserved": "Reserved credit",
        "exposure": "Exposure",
        "open_invoices": "Open invoices",
        "unapplied_cash": "Unapplied cash",
        "invoice": "Invoice",
        "issue_date": "Issue date",
        "due_date": "Due date",
        "open": "Open",
    },
}


def translator(language: str):
    catalogue = MESSAGES.get(language, MESSAGES[DEFAULT_LANGUAGE])
    return lambda key: catalogue.get(key, key)


def yuan(amount: str | Decimal | None) -> str:
    """¥1,234.56 from the API's decimal string, exactly (never through float)."""
    if amount is None or amount == "":
        return ""
    value = Decimal(str(amount)).quantize(Decimal("0.01"))
    sign = "-" if value < 0 else ""
    return f"{sign}¥{abs(value):,.2f}"


def percent(ratio: str | Decimal | None) -> str:
    """A ratio from the API (0.0434) as a percentage (4.34%), exactly."""
    if ratio is None or ratio == "":
        return ""
    return f"{(Decimal(str(ratio)) * 100).quantize(Decimal('0.01'))}%"


def china_time(moment: str | None) -> str:
    """An ISO timestamp shown in China time (Asia/Shanghai)."""
    if not moment:
        return ""
    parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        return moment
    return parsed.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
