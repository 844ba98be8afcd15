"""
The peer the benchmark compares against: what a user would write instead of this service, a FastAPI app
on PyTorch float64 autograd, mirroring POST /v1/activations/{name}/forward ({z} -> {a}),
POST /v1/activations/{name}/derivative ({z} -> {derivative, a}, the derivative by autograd) and
POST /v1/gradients/network (dense layers, squared error or softmax cross-entropy; gradients only, as the
service answers with "intermediates": false).

Served as fast as that stack goes: uvicorn with uvloop and httptools, no access log, the raw body read
and parsed with the json module (no pydantic model over a million numbers), the reply written with
json.dumps. One process; PyTorch keeps its default intra-op threads.

    /usr/bin/python3 bench/peer/app.py [port]    (port 0 or none: a free one; prints {"port": N} when listening)

Install with bench/peer/install.sh (Debian's python3-torch etc. load only in /usr/bin/python3).
"""
import json
import socket
import sys

import torch
import uvicorn
from fastapi import FastAPI, Request, Response

ACTIVATIONS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "softplus": torch.nn.functional.softplus,
    "gelu": torch.nn.functional.gelu,
    "silu": torch.nn.functional.silu,
    "elu": torch.nn.functional.elu,
}

app = FastAPI()


def tensor_of(body: bytes) -> torch.Tensor:
    """The z field of a JSON body as a float64 tensor ([K] or [N][K])."""
    try:
        return torch.tensor(json.loads(body)["z"], dtype=torch.float64)
    except (ValueError, TypeError, KeyError) as error:
        raise BadRequest(str(error)) from error


def reply(fields: dict) -> Response:
    return Response(content=json.dumps({k: v.tolist() for k, v in fields.items()}), media_type="application/json")


class BadRequest(Exception):
    pass


@app.post("/v1/activations/{name}/forward")
async def forward(name: str, request: Request) -> Response:
    g = ACTIVATIONS.get(name)
    if g is None:
        return Response(status_code=404)
    try:
        z = tensor_of(await request.body())
    except BadRequest as error:
        return Response(content=str(error), status_code=400)
    with torch.no_grad():
        a = g(z)
    return reply({"a": a})


@app.post("/v1/activations/{name}/derivative")
async def derivative(name: str, request: Request) -> Response:
    g = ACTIVATIONS.get(name)
    if g is None:
        return Response(status_code=404)
    try:
        z = tensor_of(await request.body()).requires_grad_()
    except BadRequest as error:
        return Response(content=str(error), status_code=400)
    a = g(z)
    a.backward(torch.ones_like(a))
    return reply({"derivative": z.grad, "a": a.detach()})


LAYER_ACTIVATIONS = {**ACTIVATIONS, "identity": lambda z: z, "softmax": lambda z: torch.softmax(z, dim=-1)}


@app.post("/v1/gradients/network")
async def network(request: Request) -> Response:
    try:
        body = json.loads(await request.body())
        x = torch.tensor(body["x"], dtype=torch.float64, requires_grad=True)
        t = torch.tensor(body["targets"], dtype=torch.float64)
        layers = []
        for layer in body["layers"]:
            w = torch.tensor(layer["weights"], dtype=torch.float64, requires_grad=True)
            b = torch.tensor(layer.get("bias", [0.0] * w.shape[1]), dtype=torch.float64, requires_grad=True)
            layers.append((w, b, layer["activation"]))
    except (ValueError, TypeError, KeyError) as error:
        return Response(content=str(error), status_code=400)
    h = x
    for i, (w, b, name) in enumerate(layers):
        z = h @ w + b
        if i == len(layers) - 1 and body.get("loss") == "cross_entropy" and name == "softmax":
            loss = -(t * torch.log_softmax(z, dim=-1)).sum()
            break
        g = LAYER_ACTIVATIONS.get(name)
        if g is None:
            return Response(content=f"activation {name} not in the peer", status_code=400)
        h = g(z)
    else:
        if body.get("loss", "squared_error") != "squared_error":
            return Response(content="the peer has squared_error, and cross_entropy after softmax", status_code=400)
        loss = 0.5 * ((h - t) ** 2).sum()
    if body.get("reduction") == "mean":
        loss = loss / (x.shape[0] if x.dim() == 2 else 1)
    loss.backward()
    reply_body = {
        "loss": loss.item(),
        "layers": [{"weightGradient": w.grad.tolist(), "biasGradient": b.grad.tolist()} for w, b, _ in layers],
        "inputGradient": x.grad.tolist(),
    }
    return Response(content=json.dumps(reply_body), media_type="application/json")


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(app, loop="uvloop", http="httptools", access_log=False, log_level="warning")
    server = uvicorn.Server(config)

    # Tell the parent the port once uvicorn has started serving on the socket.
    async def announce() -> None:
        print(json.dumps({"port": sock.getsockname()[1]}), flush=True)

    app.add_event_handler("startup", announce)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
