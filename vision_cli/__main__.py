from vision_cli.cli.app import entrypoint

entrypoint()
