from pipeline.main import entry

entry()
