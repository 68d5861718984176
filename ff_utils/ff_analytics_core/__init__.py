"""core subpackage of the FF analytics manager."""
