"""privacy subpackage of the FF analytics manager."""
