"""bi subpackage of the FF analytics manager."""
