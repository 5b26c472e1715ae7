"""The sandbox's SOQL engine: a Lark grammar, a typed AST and a compiler to indexed SQLite SQL."""
