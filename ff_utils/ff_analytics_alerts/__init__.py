"""alerts subpackage of the FF analytics manager."""
