"""Running flows from the Studio and showing what they did."""
