"""Many clips, many machines: `foley batch` turns folders, globs, manifests and edit timelines into jobs (one
`foley run` each) and runs them on Ray; sources.py finds the jobs, runner.py runs them and keeps batch.json;
timeline.py, extract.py and reel.py read edit timelines, cut their shots and conform the reel."""
