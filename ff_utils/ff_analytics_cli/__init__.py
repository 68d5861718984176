"""cli subpackage of the FF analytics manager."""
