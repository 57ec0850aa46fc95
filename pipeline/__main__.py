from pipeline.app.cli import entry

entry()
