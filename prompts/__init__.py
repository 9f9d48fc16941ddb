"""Words, not code: message catalogues per language and event files (shipped as data)."""
