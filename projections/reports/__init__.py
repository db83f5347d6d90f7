"""The fixed monthly reports (进销存, receivables, sales against target, rebate pools), built
from the read models and served by the query API as JSON, CSV and XLSX."""
