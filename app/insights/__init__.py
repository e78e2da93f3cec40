"""Insights: entities found in the documents, the time line, correspondent graphs and batch search."""

# The kinds of entity, names first (kept here so the command line can list them without loading the finders).
KINDS = (
    "person",
    "org",
    "company",
    "place",
    "email",
    "phone",
    "iban",
    "bic",
    "money",
    "date",
    "url",
    "ip",
    "reference",
)
