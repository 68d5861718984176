"""sketches subpackage of the FF analytics manager."""
