"""Small helpers every stage uses: logging with redaction, atomic file IO."""
