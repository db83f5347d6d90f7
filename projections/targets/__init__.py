"""Sales targets (销售目标) and their attainment from invoiced net sales."""
