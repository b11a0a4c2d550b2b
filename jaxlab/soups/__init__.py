"""Model soups."""
