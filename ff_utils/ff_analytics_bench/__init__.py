"""bench subpackage of the FF analytics manager."""
