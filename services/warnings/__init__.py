"""warnings: early warning (预警). Triggers raise a warning for the person responsible at the
lowest level; unresolved within its allowance it escalates branch manager -> region -> HQ
admin -> national."""
