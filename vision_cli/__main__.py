from vision_cli.cli.launch import entrypoint

entrypoint()
