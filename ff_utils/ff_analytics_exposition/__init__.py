"""exposition subpackage of the FF analytics manager."""
