"""masterdata: the dealers and products that inventory and finance know, as a local replica
of orders' dealer registry and product catalogue, built from the orders topic."""
