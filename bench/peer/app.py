"""
The peer the benchmark compares against: what a user would write instead of this service, a FastAPI app
on PyTorch float64 autograd, mirroring POST /v1/activations/{name}/forward ({z} -> {a}),
POST /v1/activations/{name}/derivative ({z} -> {derivative, a}, the derivative by autograd) and
POST /v1/gradients/network (dense layers, squared error or softmax cross-entropy; gradients only, as the
service answers with "intermediates": false) and POST /v1/gradients/network/hessian-vector (the same networks,
H v by torch.autograd.functional.hvp).

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


def network_request(body: dict):
    """x, targets and per layer (weights, bias, activation) of a network body, as float64 tensors."""
    x = torch.tensor(body["x"], dtype=torch.float64)
    t = torch.tensor(body["targets"], dtype=torch.float64)
    params, names = [], []
    for layer in body["layers"]:
        w = torch.tensor(layer["weights"], dtype=torch.float64)
        params += [w, torch.tensor(layer.get("bias", [0.0] * w.shape[1]), dtype=torch.float64)]
        names.append(layer["activation"])
    return x, t, params, names


def network_loss(body: dict, x: torch.Tensor, t: torch.Tensor, params, names) -> torch.Tensor:
    """E of the network with parameters params = (W_0, b_0, W_1, b_1, ...); raises BadRequest for what the peer lacks."""
    h = x
    for i, name in enumerate(names):
        z = h @ params[2 * i] + params[2 * i + 1]
        if i == len(names) - 1 and body.get("loss") == "cross_entropy" and name == "softmax":
            loss = -(t * torch.log_softmax(z, dim=-1)).sum()
            break
        g = LAYER_ACTIVATIONS.get(name)
        if g is None:
            raise BadRequest(f"activation {name} not in the peer")
        h = g(z)
    else:
        if body.get("loss", "squared_error") != "squared_error":
            raise BadRequest("the peer has squared_error, and cross_entropy after softmax")
        loss = 0.5 * ((h - t) ** 2).sum()
    if body.get("reduction") == "mean":
        loss = loss / (x.shape[0] if x.dim() == 2 else 1)
    return loss


@app.post("/v1/gradients/network")
async def network(request: Request) -> Response:
    try:
        body = json.loads(await request.body())
        x, t, params, names = network_request(body)
        x.requires_grad_()
        for p in params:
            p.requires_grad_()
        loss = network_loss(body, x, t, params, names)
    except (ValueError, TypeError, KeyError, BadRequest) as error:
        return Response(content=str(error), status_code=400)
    loss.backward()
    reply_body = {
        "loss": loss.item(),
        "layers": [
            {"weightGradient": params[2 * i].grad.tolist(), "biasGradient": params[2 * i + 1].grad.tolist()}
            for i in range(len(names))
        ],
        "inputGradient": x.grad.tolist(),
    }
    return Response(content=json.dumps(reply_body), media_type="application/json")


@app.post("/v1/gradients/network/hessian-vector")
async def hessian_vector(request: Request) -> Response:
    """H v by torch.autograd.functional.hvp (float64), and the gradients by one more backward pass (hvp does not
    return them); curvature "hessian" only."""
    try:
        body = json.loads(await request.body())
        if body.get("curvature", "hessian") != "hessian":
            raise BadRequest("the peer has curvature hessian only")
        x, t, params, names = network_request(body)
        v = []
        for layer, _ in zip(body["vector"]["layers"], names):
            w = torch.tensor(layer["weights"], dtype=torch.float64)
            v += [w, torch.tensor(layer.get("bias", [0.0] * w.shape[1]), dtype=torch.float64)]

        def loss_of(*p):
            return network_loss(body, x, t, p, names)

        loss, hv = torch.autograd.functional.hvp(loss_of, tuple(params), tuple(v))
    except (ValueError, TypeError, KeyError, BadRequest) as error:
        return Response(content=str(error), status_code=400)
    for p in params:
        p.requires_grad_()
    grads = torch.autograd.grad(network_loss(body, x, t, params, names), params)
    reply_body = {
        "loss": loss.item(),
        "directionalDerivative": sum((g * d).sum() for g, d in zip(grads, v)).item(),
        "layers": [
            {
                "weightGradient": grads[2 * i].tolist(),
                "biasGradient": grads[2 * i + 1].tolist(),
                "weightProduct": hv[2 * i].tolist(),
                "biasProduct": hv[2 * i + 1].tolist(),
            }
            for i in range(len(names))
        ],
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
