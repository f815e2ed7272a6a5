"""oxrt.serve - an Open Inference Protocol (KServe v2) server over the oxrt binding.

    python -m oxrt.serve models/ --http-port 8000 --grpc-port 8001     (or: oxrt serve models/)

REST on aiohttp, gRPC on grpcio (messages from tritonclient[grpc]), metrics with prometheus_client:
pip install aiohttp grpcio "tritonclient[grpc]" prometheus_client.
"""
