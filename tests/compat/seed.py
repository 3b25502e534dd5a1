# The asynchronous-inference example of the OctoAI Python SDK's documentation, as written.
# Three edits make the page's text a program: the loop has a body (`pass`), the assert's
# closing parenthesis is restored, and the test fills in the token and the two URLs.

from octoai.client import Client
from octoai.types import Audio

audio_base64 = Audio.from_file("she_sells_seashells.wav").audio_b64  # put your file location here
inputs = {"language": "en", "task": "transcribe", "audio": audio_base64}
OCTOAI_API_TOKEN = "API Token goes here from guide on creating OctoAI API token"
# The client will also identify if OCTOAI_TOKEN is set as an environment variable
client = Client(token=OCTOAI_API_TOKEN)

whisper_url = ""
whisper_health_check = ""

# First, you can verify the endpoint is healthy.
if client.health_check(whisper_health_check) == 200:
    future = client.infer_async(whisper_url, inputs)

# Typically, you'd collect additional futures then poll for status,
# but for the sake of example...
while not client.is_future_ready(future):
    pass

# Once the results are ready, you can use them in the same way as you
# typically do for demo endpoints
result = client.get_future_result(future)

assert "She sells seashells by the seashore" in result["response"]["segments"][0]["text"]
print(result["response"]["segments"][0]["text"])
