#!/usr/bin/env python3
"""Generates the ONNX fixtures of tests/it/onnx.rs and their reference outputs.

Run by a developer, not by CI (the outputs are committed):

    pip install onnx numpy onnxruntime
    python3 tests/data/onnx/generate.py

Each fixture NAME gives NAME.onnx (a small graph exercising one operator, named the way
torch.onnx.export names nodes and initializers) and NAME.json (the input batch and onnxruntime's
output for it, as shapes and flat row-major float lists). Seeds are fixed: the files are reproducible.
"""

import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 13
BATCH = 2


class G:
    """A graph under construction: nodes, initializers and a running value name."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.count = [], [], 0

    def init(self, name, array):
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def weight(self, name, shape, scale=None):
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        scale = scale if scale is not None else 1.0 / np.sqrt(fan_in)
        return self.init(name, (self.rng.uniform(-1, 1, shape) * scale).astype(np.float32))

    def node(self, op, inputs, name, n_out=1, **attrs):
        self.count += 1
        outs = [f"/{name}/{op}_output_{k}" for k in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=f"/{name}/{op}", **attrs))
        return outs[0]

    def conv(self, x, name, cin, cout, k, bias=True, **attrs):
        kh, kw = (k, k) if isinstance(k, int) else k
        groups = attrs.get("group", 1)
        w = self.weight(f"{name}.weight", (cout, cin // groups, kh, kw))
        ins = [x, w]
        if bias:
            ins.append(self.weight(f"{name}.bias", (cout,), 0.1))
        return self.node("Conv", ins, name, kernel_shape=[kh, kw], **attrs)

    def bn(self, x, name, c, eps=1e-5):
        r = self.rng
        ins = [
            x,
            self.init(f"{name}.weight", r.uniform(0.5, 1.5, c).astype(np.float32)),
            self.init(f"{name}.bias", r.uniform(-0.3, 0.3, c).astype(np.float32)),
            self.init(f"{name}.running_mean", r.uniform(-0.3, 0.3, c).astype(np.float32)),
            self.init(f"{name}.running_var", r.uniform(0.5, 2.0, c).astype(np.float32)),
        ]
        return self.node("BatchNormalization", ins, name, epsilon=eps)

    def gemm(self, x, name, fin, fout, **attrs):
        if attrs.get("transB", 0):
            w = self.weight(f"{name}.weight", (fout, fin))
        else:
            w = self.weight(f"{name}.weight", (fin, fout), 1.0 / np.sqrt(fin))
        b = self.weight(f"{name}.bias", (fout,), 0.1)
        return self.node("Gemm", [x, w, b], name, **attrs)

    def flatten(self, x, name="flatten"):
        return self.node("Flatten", [x], name, axis=1)

    def save(self, fixture, x_shape, out, out_len):
        inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, [BATCH] + list(x_shape))
        outp = helper.make_tensor_value_info("output", TensorProto.FLOAT, [BATCH, out_len])
        self.nodes.append(helper.make_node("Identity", [out], ["output"], name="/output/Identity"))
        graph = helper.make_graph(self.nodes, fixture, [inp], [outp], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="uswim-fixtures")
        model.ir_version = 8
        onnx.checker.check_model(model)
        path = os.path.join(HERE, fixture + ".onnx")
        onnx.save(model, path)
        x = self.rng.uniform(-1, 1, [BATCH] + list(x_shape)).astype(np.float32)
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        y = sess.run(None, {"input": x})[0]
        assert y.shape == (BATCH, out_len), (fixture, y.shape)
        ref = {
            "input_shape": list(x.shape),
            "input": [float(v) for v in x.ravel()],
            "output_shape": list(y.shape),
            "output": [float(v) for v in y.ravel()],
        }
        with open(os.path.join(HERE, fixture + ".json"), "w") as f:
            json.dump(ref, f)


def conv_basic():
    g = G(1)
    y = g.conv("input", "conv1", 2, 3, 3, pads=[1, 1, 1, 1])
    g.save("conv_basic", (2, 5, 5), g.flatten(y), 3 * 25)


def conv_strided_asymmetric():
    g = G(2)
    y = g.conv("input", "conv1", 2, 3, (3, 2), bias=False, strides=[2, 1], pads=[1, 0, 2, 1])
    # out h = (6 + 1 + 2 - 3) / 2 + 1 = 4, w = (5 + 0 + 1 - 2) / 1 + 1 = 5
    g.save("conv_strided_asymmetric", (2, 6, 5), g.flatten(y), 3 * 4 * 5)


def conv_groups_dilation():
    g = G(3)
    y = g.conv("input", "conv1", 4, 6, 3, group=2, dilations=[2, 2], pads=[2, 2, 2, 2])
    g.save("conv_groups_dilation", (4, 5, 5), g.flatten(y), 6 * 25)


def conv_depthwise():
    g = G(4)
    y = g.conv("input", "conv1", 3, 3, 3, group=3, strides=[2, 2], pads=[1, 1, 1, 1])
    g.save("conv_depthwise", (3, 6, 6), g.flatten(y), 3 * 9)


def gemm():
    g = G(5)
    y = g.gemm("input", "fc1", 12, 7, transB=1, alpha=0.5, beta=2.0)
    g.save("gemm", (12,), y, 7)


def gemm_untransposed():
    g = G(6)
    y = g.gemm("input", "fc1", 12, 7)
    g.save("gemm_untransposed", (12,), y, 7)


def matmul_add():
    g = G(7)
    w = g.weight("fc1.weight_t", (10, 6), 0.3)
    y = g.node("MatMul", ["input", w], "fc1")
    b = g.weight("fc1.bias", (6,), 0.1)
    y = g.node("Add", [y, b], "fc1_bias")
    g.save("matmul_add", (10,), y, 6)


def activation(op, **attrs):
    g = G(8)
    y = g.gemm("input", "fc1", 8, 9, transB=1)
    y = g.node(op, [y], "act", **attrs)
    y = g.gemm(y, "fc2", 9, 5, transB=1)
    g.save(op.lower(), (8,), y, 5)


def pool(fixture, op, **attrs):
    g = G(9)
    y = g.conv("input", "conv1", 2, 3, 3, pads=[1, 1, 1, 1])
    y = g.node(op, [y], "pool", **attrs)
    shape = onnx_shape(fixture, g, y)
    g.save(fixture, (2, 6, 6), g.flatten(y), shape)


def onnx_shape(fixture, g, y):
    """The flat size of value y, by running the graph so far in onnxruntime."""
    outp = helper.make_tensor_value_info(y, TensorProto.FLOAT, None)
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, [BATCH, 2, 6, 6])
    graph = helper.make_graph(g.nodes, "probe", [inp], [outp], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    out = sess.run(None, {"input": np.zeros([BATCH, 2, 6, 6], np.float32)})[0]
    return int(np.prod(out.shape[1:]))


def batchnorm():
    g = G(10)
    y = g.conv("input", "conv1", 2, 3, 3, pads=[1, 1, 1, 1])
    y = g.bn(y, "bn1", 3, eps=1e-3)
    y = g.flatten(y)
    y = g.gemm(y, "fc1", 3 * 16, 10, transB=1)
    y = g.bn(y, "bn2", 10)
    g.save("batchnorm", (2, 4, 4), y, 10)


def add_residual():
    g = G(11)
    a = g.conv("input", "conv1", 3, 3, 3, pads=[1, 1, 1, 1])
    a = g.node("Relu", [a], "relu1")
    a = g.conv(a, "conv2", 3, 3, 3, pads=[1, 1, 1, 1])
    y = g.node("Add", [a, "input"], "add")
    c = g.init("shift", (g.rng.uniform(-0.5, 0.5, (3, 1, 1))).astype(np.float32))
    y = g.node("Add", [c, y], "add_const")
    g.save("add", (3, 4, 4), g.flatten(y), 48)


def reshape():
    g = G(12)
    y = g.conv("input", "conv1", 2, 4, 3, strides=[2, 2], pads=[1, 1, 1, 1])  # 4x3x3
    s1 = g.init("shape1", np.array([BATCH, -1], np.int64))  # the exported batch size
    y = g.node("Reshape", [y, s1], "reshape1")
    y = g.node("Relu", [y], "relu")
    s2 = g.node("Constant", [], "shape2", value=numpy_helper.from_array(np.array([0, 4, 9], np.int64)))
    y = g.node("Reshape", [y, s2], "reshape2")
    s3 = g.init("shape3", np.array([-1, 36], np.int64))
    y = g.node("Reshape", [y, s3], "reshape3")
    y = g.gemm(y, "fc1", 36, 5, transB=1)
    g.save("reshape", (2, 6, 6), y, 5)


def concat():
    g = G(13)
    a = g.conv("input", "branch1", 2, 3, 1)
    b = g.conv("input", "branch2", 2, 2, 3, pads=[1, 1, 1, 1])
    y = g.node("Concat", [a, b], "concat", axis=1)
    y = g.node("MaxPool", [y], "pool", kernel_shape=[2, 2], strides=[2, 2])
    g.save("concat", (2, 4, 4), g.flatten(y), 5 * 4)


def identity_dropout():
    g = G(14)
    y = g.node("Identity", ["input"], "identity")
    y = g.gemm(y, "fc1", 6, 4, transB=1)
    y = g.node("Dropout", [y], "dropout", n_out=1)
    g.save("identity_dropout", (6,), y, 4)


def resnet20():
    """A ResNet-20-style CIFAR network (3 stages of 3 basic blocks, option-B 1x1 shortcuts), narrow
    (4/8/16 channels) and on 3x12x12 inputs so that the file stays small."""
    g = G(15)
    y = g.conv("input", "conv1", 3, 4, 3, bias=False, pads=[1, 1, 1, 1])
    y = g.node("Relu", [g.bn(y, "bn1", 4)], "relu")
    cin = 4
    for stage, cout in enumerate([4, 8, 16]):
        for block in range(3):
            p = f"layer{stage + 1}.{block}"
            stride = 2 if stage > 0 and block == 0 else 1
            a = g.conv(y, f"{p}.conv1", cin, cout, 3, bias=False, strides=[stride] * 2, pads=[1] * 4)
            a = g.node("Relu", [g.bn(a, f"{p}.bn1", cout)], f"{p}.relu1")
            a = g.bn(g.conv(a, f"{p}.conv2", cout, cout, 3, bias=False, pads=[1] * 4), f"{p}.bn2", cout)
            if stride != 1 or cin != cout:
                s = g.conv(y, f"{p}.shortcut.0", cin, cout, 1, bias=False, strides=[stride] * 2)
                s = g.bn(s, f"{p}.shortcut.1", cout)
            else:
                s = y
            y = g.node("Relu", [g.node("Add", [a, s], f"{p}.add")], f"{p}.relu2")
            cin = cout
    y = g.node("GlobalAveragePool", [y], "avgpool")
    y = g.flatten(y)
    y = g.gemm(y, "linear", 16, 10, transB=1)
    g.save("resnet20", (3, 12, 12), y, 10)


def unsupported():
    g = G(16)
    y = g.gemm("input", "fc1", 4, 3, transB=1)
    y = g.node("Softmax", [y], "softmax", axis=1)
    g.save("unsupported", (4,), y, 3)


if __name__ == "__main__":
    conv_basic()
    conv_strided_asymmetric()
    conv_groups_dilation()
    conv_depthwise()
    gemm()
    gemm_untransposed()
    matmul_add()
    activation("Relu")
    activation("LeakyRelu", alpha=0.2)
    activation("Sigmoid")
    activation("Tanh")
    pool("maxpool", "MaxPool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    pool("averagepool", "AveragePool", kernel_shape=[2, 2], strides=[2, 2])
    pool("globalaveragepool", "GlobalAveragePool")
    batchnorm()
    add_residual()
    reshape()
    concat()
    identity_dropout()
    resnet20()
    unsupported()
