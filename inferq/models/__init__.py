"""Built-in services: ``echo`` for trying inferq without a model, ``whisper`` for speech."""
