"""What to ask and what answers mean: flows, rules and the program catalog, as data plus pure code."""
