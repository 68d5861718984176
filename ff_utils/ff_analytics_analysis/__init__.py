"""analysis subpackage of the FF analytics manager."""
