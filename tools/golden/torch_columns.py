"""The PyTorch side of the golden files: every number in them that comes from PyTorch.

gen.py and gen_network.py import this module only when torch is importable and --no-torch is not given
(gen.load_torch_columns decides). Everything computed here is a column beside the mpmath reference, never
the reference itself: activations.json's torch_call, torch_value and torch_derivative; output_layer.json's
max_abs_z, expected and torch_vs_mpmath_normwise_rel_dev; network.json's expected and
torch_vs_mpmath_normwise_rel_dev; all of torch_error.json. Keeping every torch call in this one file is what
lets the references be generated where PyTorch is not installed.

Parameters (P) arrive complete, defaults filled in by the caller, so this module needs nothing from gen.py.
"""
import torch
import torch.nn.functional as F

# One thread, as the committed files were made (a threaded reduction may add in another order), and a light
# load on a shared machine.
torch.set_num_threads(1)
DT = torch.float64
VERSION = torch.__version__


def activation(name, t, P):
    """The activation as a PyTorch user calls it (CALL says how); P holds every parameter."""
    if name == "identity":
        return t * 1.0
    if name == "sigmoid":
        return torch.sigmoid(t)
    if name == "tanh":
        return torch.tanh(t)
    if name == "relu":
        return F.relu(t)
    if name == "leaky_relu":
        return F.leaky_relu(t, negative_slope=P["alpha"])
    if name == "elu":
        return F.elu(t, alpha=P["alpha"])
    if name == "selu":
        return F.selu(t)
    if name == "celu":
        return F.celu(t, alpha=P["alpha"])
    if name == "gelu":
        return F.gelu(t)
    if name == "gelu_tanh":
        return F.gelu(t, approximate="tanh")
    if name == "softplus":
        return F.softplus(t, beta=P["beta"])  # torch default threshold=20 (linear cut-off)
    if name == "softsign":
        return F.softsign(t)
    if name == "silu":
        return F.silu(t)
    if name == "mish":
        return F.mish(t)
    if name == "hardsigmoid":
        return F.hardsigmoid(t)
    if name == "hardtanh":
        return F.hardtanh(t, min_val=P["min"], max_val=P["max"])
    if name == "hardswish":
        return F.hardswish(t)
    if name == "relu6":
        return F.relu6(t)
    if name == "logsigmoid":
        return F.logsigmoid(t)
    if name == "tanhshrink":
        return F.tanhshrink(t)
    if name == "softshrink":
        return F.softshrink(t, lambd=P["lambda"])
    if name == "hardshrink":
        return F.hardshrink(t, lambd=P["lambda"])
    raise KeyError(name)


# activations.json's torch_call: the call behind torch_value
CALL = {
    "identity": "x (autograd of x*1.0)",
    "sigmoid": "torch.sigmoid(x)",
    "tanh": "torch.tanh(x)",
    "relu": "F.relu(x)",
    "leaky_relu": "F.leaky_relu(x, negative_slope=alpha)",
    "elu": "F.elu(x, alpha=alpha)",
    "selu": "F.selu(x)",
    "celu": "F.celu(x, alpha=alpha)",
    "gelu": "F.gelu(x)",
    "gelu_tanh": "F.gelu(x, approximate='tanh')",
    "softplus": "F.softplus(x, beta=beta)  (torch default threshold=20: returns x where beta*x > 20)",
    "softsign": "F.softsign(x)",
    "silu": "F.silu(x)",
    "mish": "F.mish(x)",
    "hardsigmoid": "F.hardsigmoid(x)",
    "hardtanh": "F.hardtanh(x, min_val=min, max_val=max)",
    "hardswish": "F.hardswish(x)",
    "relu6": "F.relu6(x)",
    "logsigmoid": "F.logsigmoid(x)",
    "tanhshrink": "F.tanhshrink(x)",
    "softshrink": "F.softshrink(x, lambd=lambda)",
    "hardshrink": "F.hardshrink(x, lambd=lambda)",
}


def scalar(name, P, z):
    """Value and autograd derivative on a one-element tensor (activations.json's torch_value, torch_derivative)."""
    t = torch.tensor([z], dtype=DT, requires_grad=True)
    y = activation(name, t, P)
    (g,) = torch.autograd.grad(y, t, torch.ones_like(y))
    return float(y.detach()[0]), float(g[0])


def batch(name, P, zs):
    """The same on one tensor of every point: gen.py counts where it differs from the scalar evaluation."""
    t = torch.tensor(zs, dtype=DT, requires_grad=True)
    y = activation(name, t, P)
    (g,) = torch.autograd.grad(y, t, torch.ones_like(y))
    return [float(v) for v in y.detach()], [float(v) for v in g]


def softmax(logits, v):
    """probabilities, log_softmax, the Jacobian (row-major), v^T J and the log_softmax VJP, as float lists."""
    x = torch.tensor(logits, dtype=DT, requires_grad=True)
    p = F.softmax(x, dim=-1)
    (g,) = torch.autograd.grad(p, x, torch.tensor(v, dtype=DT))
    x2 = torch.tensor(logits, dtype=DT, requires_grad=True)
    ls = F.log_softmax(x2, dim=-1)
    (lg,) = torch.autograd.grad(ls, x2, torch.tensor(v, dtype=DT))
    J = torch.autograd.functional.jacobian(lambda u: F.softmax(u, dim=-1),
                                           torch.tensor(logits, dtype=DT))
    return ([float(t) for t in p.detach()], [float(t) for t in ls.detach()],
            [float(t) for t in J.flatten()], [float(t) for t in g], [float(t) for t in lg])


def act(name, z, P):
    """A layer's activation (output layer and network): as activation(), but softmax too and softplus exact;
    P holds every parameter (gen.full_params)."""
    if name == "softmax":
        return F.softmax(z, dim=-1)
    if name == "softplus":  # exact softplus (no threshold), stable: -logsigmoid(-beta z)/beta
        b = P.get("beta", 1.0)
        return -F.logsigmoid(-b * z) / b
    return activation(name, z, P)


def output_layer(x, W, b, t, act_name, P, loss, reduction):
    """output_layer.json's `expected`: loss, z, a, delta, weightGradient, biasGradient, inputGradient."""
    X = torch.tensor(x, dtype=DT, requires_grad=True)
    single = X.dim() == 1
    Xb = X.unsqueeze(0) if single else X
    Wt = torch.tensor(W, dtype=DT, requires_grad=True)
    K = Wt.shape[1]
    bt = torch.tensor(b if b is not None else [0.0] * K, dtype=DT, requires_grad=True)
    T = torch.tensor(t, dtype=DT)
    Tb = T.unsqueeze(0) if single else T
    N = Xb.shape[0]
    z = Xb @ Wt + bt
    z.retain_grad()
    if loss == "squared_error":
        a = act(act_name, z, P)
        E = 0.5 * ((a - Tb) ** 2).sum()
    elif loss == "cross_entropy" and act_name == "softmax":
        a = F.softmax(z, dim=-1)
        E = -(Tb * F.log_softmax(z, dim=-1)).sum()
    elif loss == "cross_entropy" and act_name == "sigmoid":
        a = torch.sigmoid(z)
        E = -(Tb * F.logsigmoid(z)).sum()
    elif loss == "binary_cross_entropy" and act_name == "sigmoid":
        a = torch.sigmoid(z)
        E = -(Tb * F.logsigmoid(z) + (1 - Tb) * F.logsigmoid(-z)).sum()
    else:
        raise ValueError((act_name, loss))
    if reduction == "mean":
        E = E / N
    E.backward()

    def sh(m):  # back to the request's shape
        m = m.detach()
        if single:
            m = m[0]
        return m.tolist()

    return {"loss": float(E.detach()), "z": sh(z), "a": sh(a), "delta": sh(z.grad),
            "weightGradient": Wt.grad.tolist(), "biasGradient": bt.grad.tolist(),
            "inputGradient": X.grad.tolist()}


def network(req, params):
    """network.json's `expected` for a POST /v1/gradients/network body; params[i]: layer i's full parameters."""
    x, layers, t = req["x"], req["layers"], req["targets"]
    loss, red = req["loss"], req["reduction"]
    X = torch.tensor(x, dtype=DT, requires_grad=True)
    single = X.dim() == 1
    h = X.unsqueeze(0) if single else X
    T = torch.tensor(t, dtype=DT)
    T = T.unsqueeze(0) if single else T
    N = h.shape[0]
    Ws, bs, zs, As = [], [], [], []
    for i, L in enumerate(layers):
        W = torch.tensor(L["weights"], dtype=DT, requires_grad=True)
        K = W.shape[1]
        b = torch.tensor(L.get("bias", [0.0] * K), dtype=DT, requires_grad=True)
        z = h @ W + b
        z.retain_grad()
        last = i == len(layers) - 1
        act_name = L["activation"]
        if last and loss != "squared_error":
            a = F.softmax(z, dim=-1) if act_name == "softmax" else torch.sigmoid(z)
        else:
            a = act(act_name, z, params[i])
        if not last:
            a.retain_grad()
        Ws.append(W), bs.append(b), zs.append(z), As.append(a)
        h = a
    z, a = zs[-1], As[-1]
    out_act = layers[-1]["activation"]
    if loss == "squared_error":
        E = 0.5 * ((a - T) ** 2).sum()
    elif loss == "cross_entropy" and out_act == "softmax":
        E = -(T * F.log_softmax(z, dim=-1)).sum()
    elif loss == "cross_entropy":
        E = -(T * F.logsigmoid(z)).sum()
    else:
        E = -(T * F.logsigmoid(z) + (1 - T) * F.logsigmoid(-z)).sum()
    if red == "mean":
        E = E / N
    E.backward()

    def sh(m):
        m = m.detach()
        return (m[0] if single else m).tolist()

    return {"loss": float(E.detach()),
            "layers": [{"z": sh(zs[i]), "a": sh(As[i]), "delta": sh(zs[i].grad),
                        "weightGradient": Ws[i].grad.tolist(), "biasGradient": bs[i].grad.tolist()}
                       for i in range(len(layers))],
            "inputGradient": X.grad.tolist()}

