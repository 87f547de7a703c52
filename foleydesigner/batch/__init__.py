"""Many clips, many machines: batch runs, edit timelines and the conformed reel."""
