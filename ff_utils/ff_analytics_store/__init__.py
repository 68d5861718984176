"""store subpackage of the FF analytics manager."""
