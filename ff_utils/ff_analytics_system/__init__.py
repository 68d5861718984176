"""system subpackage of the FF analytics manager."""
