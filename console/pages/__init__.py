"""The console's pages, one module per area; each gives `routes(console)`, an APIRouter."""
