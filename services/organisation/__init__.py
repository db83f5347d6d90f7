"""organisation: the sales organisation as master data, headquarters' regions (大区) and branch
offices (分公司), kept by the orders service and learnt by the others from the orders topic."""
