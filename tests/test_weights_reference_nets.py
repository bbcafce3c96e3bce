"""An independent PyTorch reference for the weight-conversion tests.

Written here from torch.nn primitives (torchvision is not importable beside the local torch):
ResNet (torchvision layout), the reference repository's MobileNetV2 layout, the TSM wrappers
with the reference's parameter naming (shift wrappers hold the wrapped module in ``.net``,
temporal pool wraps ``layer2`` in ``.net``, non-local wraps blocks as ``.block`` + ``.nl``) and
the reference shift convention. Checkpoints are saved the way the reference ``main.py`` does:
``{"epoch", "arch", "state_dict": {"module.base_model.*", "module.new_fc.*"}, "best_prec1"}``.

The tests in this file check the reference itself against numpy, so that the parity tests in
``test_weights_parity.py`` compare our models with something known to be right.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch (the 'torch' extra) is not installed")
nn = torch.nn
F = torch.nn.functional


# --- the shift (reference convention) -----------------------------------------------------

def reference_shift(x, num_segments: int, fold_div: int = 8):
    """``[N*T, C, H, W]``: channels [0, fold) from t+1, [fold, 2 fold) from t-1, zero edges."""
    nt, c, h, w = x.shape
    clips = x.view(nt // num_segments, num_segments, c, h, w)
    fold = c // fold_div
    out = torch.zeros_like(clips)
    out[:, :-1, :fold] = clips[:, 1:, :fold]
    out[:, 1:, fold:2 * fold] = clips[:, :-1, fold:2 * fold]
    out[:, :, 2 * fold:] = clips[:, :, 2 * fold:]
    return out.view(nt, c, h, w)


class ShiftWrapper(nn.Module):
    """Shift the input, then run ``self.net`` (the reference's parameter naming)."""

    def __init__(self, net, num_segments, fold_div=8):
        super().__init__()
        self.net = net
        self.num_segments = num_segments
        self.fold_div = fold_div

    def forward(self, x):
        return self.net(reference_shift(x, self.num_segments, self.fold_div))


class TemporalPoolWrapper(nn.Module):
    """Max-pool over time (kernel 3, stride 2, pad 1), then run ``self.net``."""

    def __init__(self, net, num_segments):
        super().__init__()
        self.net = net
        self.num_segments = num_segments

    def forward(self, x):
        nt, c, h, w = x.shape
        clips = x.view(nt // self.num_segments, self.num_segments, c, h, w).transpose(1, 2)
        pooled = F.max_pool3d(clips, kernel_size=(3, 1, 1), stride=(2, 1, 1),
                              padding=(1, 0, 0))
        pooled = pooled.transpose(1, 2).contiguous()
        return self.net(pooled.view(-1, c, h, w))


# --- ResNet (torchvision layout) ---------------------------------------------------------

def conv_bn(cin, cout, k, stride=1):
    return nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, width, stride):
        super().__init__()
        self.conv1, self.bn1 = conv_bn(cin, width, 3, stride)
        self.conv2, self.bn2 = conv_bn(width, width, 3)
        self.downsample = None
        if stride != 1 or cin != width:
            self.downsample = nn.Sequential(*conv_bn(cin, width, 1, stride))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, width, stride):
        super().__init__()
        self.conv1, self.bn1 = conv_bn(cin, width, 1)
        self.conv2, self.bn2 = conv_bn(width, width, 3, stride)
        self.conv3, self.bn3 = conv_bn(width, width * 4, 1)
        self.downsample = None
        if stride != 1 or cin != width * 4:
            self.downsample = nn.Sequential(*conv_bn(cin, width * 4, 1, stride))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


RESNETS = {
    "resnet18": (BasicBlock, (2, 2, 2, 2), (64, 128, 256, 512)),
    "resnet50": (Bottleneck, (3, 4, 6, 3), (64, 128, 256, 512)),
    "resnet101": (Bottleneck, (3, 4, 23, 3), (64, 128, 256, 512)),
    "resnet_tiny": (BasicBlock, (1, 1, 1, 1), (16, 32, 64, 128)),
}


class ResNet(nn.Module):
    """torchvision-layout ResNet; ``num_classes=None`` leaves out ``fc`` (as the reference
    replaces it by a Dropout, which has no parameters)."""

    def __init__(self, arch, num_classes=None):
        super().__init__()
        block, counts, widths = RESNETS[arch]
        self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        cin = widths[0]
        for stage, (count, width) in enumerate(zip(counts, widths, strict=True)):
            blocks = []
            for i in range(count):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(block(cin, width, stride))
                cin = width * block.expansion
            setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
        self.feature_dim = cin
        self.fc = nn.Linear(cin, num_classes) if num_classes else None

    def features(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        for stage in range(1, 5):
            x = getattr(self, f"layer{stage}")(x)
        return x.mean((2, 3))

    def forward(self, x):
        return self.fc(self.features(x))


def add_resnet_shift(net, num_segments, *, place="blockres", every=1, temporal_pool=False):
    """Insert the shift the reference way (make_temporal_shift): wrap ``conv1`` of every
    ``every``-th block (residual shift) or the whole block (in-place shift)."""
    segments = [num_segments] + [num_segments // 2 if temporal_pool else num_segments] * 3
    for stage in range(1, 5):
        blocks = list(getattr(net, f"layer{stage}").children())
        for i, block in enumerate(blocks):
            if i % every:
                continue
            if place == "blockres":
                block.conv1 = ShiftWrapper(block.conv1, segments[stage - 1])
            else:
                blocks[i] = ShiftWrapper(block, segments[stage - 1])
        setattr(net, f"layer{stage}", nn.Sequential(*blocks))


class NonLocal3d(nn.Module):
    """Embedded-Gaussian non-local block on ``[N, C, T, H, W]`` with (1, 2, 2) sub-sampling."""

    def __init__(self, channels):
        super().__init__()
        inter = channels // 2
        self.inter = inter
        self.g = nn.Sequential(nn.Conv3d(channels, inter, 1), nn.MaxPool3d((1, 2, 2)))
        self.theta = nn.Conv3d(channels, inter, 1)
        self.phi = nn.Sequential(nn.Conv3d(channels, inter, 1), nn.MaxPool3d((1, 2, 2)))
        self.W = nn.Sequential(nn.Conv3d(inter, channels, 1), nn.BatchNorm3d(channels))

    def forward(self, x):
        n = x.shape[0]
        values = self.g(x).view(n, self.inter, -1).permute(0, 2, 1)
        queries = self.theta(x).view(n, self.inter, -1).permute(0, 2, 1)
        keys = self.phi(x).view(n, self.inter, -1)
        attention = torch.softmax(queries @ keys, dim=-1)
        y = (attention @ values).permute(0, 2, 1).reshape(n, self.inter, *x.shape[2:])
        return self.W(y) + x


class NonLocalWrapper(nn.Module):
    def __init__(self, block, num_segments):
        super().__init__()
        self.block = block
        self.nl = NonLocal3d(block.bn3.num_features)
        self.num_segments = num_segments

    def forward(self, x):
        x = self.block(x)
        nt, c, h, w = x.shape
        clips = x.view(nt // self.num_segments, self.num_segments, c, h, w).transpose(1, 2)
        return self.nl(clips).transpose(1, 2).contiguous().view(nt, c, h, w)


def add_non_local(net, num_segments):
    """Non-local after layer2 blocks 0, 2 and layer3 blocks 0, 2, 4 (ResNet-50)."""
    for stage, positions in (("layer2", (0, 2)), ("layer3", (0, 2, 4))):
        blocks = list(getattr(net, stage).children())
        for i in positions:
            blocks[i] = NonLocalWrapper(blocks[i], num_segments)
        setattr(net, stage, nn.Sequential(*blocks))


# --- MobileNetV2 (the reference repository's layout) ------------------------------------------

MBV2_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                 (6, 160, 3, 2), (6, 320, 1, 1))


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expansion):
        super().__init__()
        hidden = cin * expansion
        self.use_res = stride == 1 and cin == cout
        self.expanded = expansion != 1
        layers = []
        if expansion != 1:
            layers += [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden),
                       nn.ReLU6()]
        layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
                   nn.BatchNorm2d(hidden), nn.ReLU6(),
                   nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)

    def forward_online(self, x, cache):
        """The online demo's block: the first C//8 channels come from the cache."""
        fold = x.shape[1] // 8
        y = x + self.conv(torch.cat((cache, x[:, fold:]), dim=1))
        return y, x[:, :fold]


class MobileNetV2(nn.Module):
    def __init__(self, num_classes=None):
        super().__init__()
        layers = [nn.Sequential(nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32),
                                nn.ReLU6())]
        cin = 32
        for expansion, cout, repeats, stride in MBV2_SETTINGS:
            for i in range(repeats):
                layers.append(InvertedResidual(cin, cout, stride if i == 0 else 1, expansion))
                cin = cout
        layers.append(nn.Sequential(nn.Conv2d(cin, 1280, 1, bias=False), nn.BatchNorm2d(1280),
                                    nn.ReLU6()))
        self.features = nn.Sequential(*layers)
        self.feature_dim = 1280
        self.classifier = nn.Linear(1280, num_classes) if num_classes else None

    def shifted_blocks(self):
        return [m for m in self.features if isinstance(m, InvertedResidual)
                and m.expanded and m.use_res]

    def forward_features(self, x):
        return self.features(x).mean((2, 3))

    def forward(self, x):
        return self.classifier(self.forward_features(x))

    def forward_online(self, x, caches):
        """One frame ``[1, 3, H, W]`` and the caches -> (logits, new caches)."""
        new_caches, index = [], 0
        for module in self.features:
            if isinstance(module, InvertedResidual) and module.expanded and module.use_res:
                x, cache = module.forward_online(x, caches[index])
                new_caches.append(cache)
                index += 1
            else:
                x = module(x)
        return self.classifier(x.mean((2, 3))), new_caches


def add_mobilenet_shift(net, num_segments):
    for block in net.shifted_blocks():
        block.conv[0] = ShiftWrapper(block.conv[0], num_segments)


# --- the TSN/TSM wrapper, initialisation and checkpoint writing ----------------------------

class ReferenceTSN(nn.Module):
    """``base_model`` backbone + ``new_fc`` + average consensus over the T' frames."""

    def __init__(self, base_model, num_classes, num_segments, temporal_pool=False):
        super().__init__()
        self.base_model = base_model
        self.new_fc = nn.Linear(base_model.feature_dim, num_classes)
        self.segments_out = num_segments // 2 if temporal_pool else num_segments

    def forward(self, clips):
        """``clips [N, T, 3, H, W]`` -> logits ``[N, K]``."""
        frames = clips.reshape(-1, *clips.shape[2:])
        if isinstance(self.base_model, MobileNetV2):
            feats = self.base_model.forward_features(frames)
        else:
            feats = self.base_model.features(frames)
        logits = self.new_fc(feats)
        return logits.view(-1, self.segments_out, logits.shape[-1]).mean(1)


def randomize(model, seed=0, calibrate_input=None):
    """Random weights and non-trivial BatchNorm statistics (eval mode afterwards).

    With ``calibrate_input``, running statistics are first set from one forward pass in
    training mode (keeps deep nets' activations in a sane range), then perturbed.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Conv3d, nn.Linear)):
                fan_in = module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen)
                                    * (2.0 / fan_in) ** 0.5)
                if module.bias is not None:
                    module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=gen))
            if isinstance(module, (nn.BatchNorm2d, nn.BatchNorm3d)):
                shape = module.weight.shape
                module.weight.copy_(0.5 + torch.rand(shape, generator=gen))
                module.bias.copy_(0.1 * torch.randn(shape, generator=gen))
                module.running_mean.copy_(0.1 * torch.randn(shape, generator=gen))
                module.running_var.copy_(0.5 + torch.rand(shape, generator=gen))
        # Residual branches end in a smaller-gain BatchNorm, as in trained ResNets: keeps the
        # residual stream's scale (and float32 rounding) of 100-layer nets realistic.
        for module in model.modules():
            if isinstance(module, Bottleneck):
                module.bn3.weight.mul_(0.25)
            elif isinstance(module, BasicBlock):
                module.bn2.weight.mul_(0.25)
            elif isinstance(module, NonLocal3d):  # moderate attention logits, not one-hot
                module.theta.weight.mul_(0.3)
                module.phi[0].weight.mul_(0.3)
        if calibrate_input is not None:
            for module in model.modules():
                if isinstance(module, (nn.BatchNorm2d, nn.BatchNorm3d)):
                    module.reset_running_stats()
                    module.momentum = None  # cumulative average: one batch -> its stats
            model.train()
            model(calibrate_input)
            for module in model.modules():
                if isinstance(module, (nn.BatchNorm2d, nn.BatchNorm3d)):
                    shape = module.running_var.shape
                    module.running_mean.add_(0.05 * torch.randn(shape, generator=gen))
                    module.running_var.mul_(0.8 + 0.4 * torch.rand(shape, generator=gen))
            for module in model.modules():
                # Non-local output BN: batch statistics of an attention average are nearly
                # constant (variance ~ 0), so give it plain random statistics instead.
                if isinstance(module, NonLocal3d):
                    bn = module.W[1]
                    bn.running_mean.copy_(0.1 * torch.randn(bn.running_mean.shape, generator=gen))
                    bn.running_var.copy_(0.5 + torch.rand(bn.running_var.shape, generator=gen))
    model.eval()
    return model


def save_reference_checkpoint(model: ReferenceTSN, path, arch="resnet50"):
    """Save like the reference main.py: DataParallel ``module.`` prefix, metadata."""
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    torch.save({"epoch": 50, "arch": arch, "state_dict": state, "best_prec1": 71.2}, path)


def to_keras_clips(clips) -> np.ndarray:
    """``[N, T, 3, H, W]`` torch -> ``[N, T, H, W, 3]`` numpy."""
    return np.ascontiguousarray(clips.numpy().transpose(0, 1, 3, 4, 2))


def random_clips(n, t, size, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, t, 3, size, size, generator=gen)


# --- checks of the reference itself -----------------------------------------------------------

def numpy_shift(x: np.ndarray, t: int, fold_div: int = 8) -> np.ndarray:
    """The convention from the facts file, one frame at a time in numpy: [N*T, C, H, W]."""
    nt, c = x.shape[:2]
    fold = c // fold_div
    out = x.copy()
    for clip in range(nt // t):
        for frame in range(t):
            row = clip * t + frame
            out[row, :fold] = x[row + 1, :fold] if frame + 1 < t else 0.0
            out[row, fold:2 * fold] = x[row - 1, fold:2 * fold] if frame > 0 else 0.0
    return out


def test_reference_shift_matches_the_documented_convention():
    x = np.random.default_rng(0).normal(size=(2 * 4, 16, 3, 3)).astype("float32")
    got = reference_shift(torch.from_numpy(x), 4).numpy()
    np.testing.assert_array_equal(got, numpy_shift(x, 4))


def test_reference_names_follow_the_reference_layout():
    base = ResNet("resnet50")
    add_resnet_shift(base, 8)
    add_non_local(base, 8)
    base.layer2 = TemporalPoolWrapper(base.layer2, 8)
    keys = set(ReferenceTSN(base, 10, 8).state_dict())
    assert "base_model.layer1.0.conv1.net.weight" in keys
    assert "base_model.layer2.net.0.block.conv1.net.weight" in keys
    assert "base_model.layer2.net.0.nl.W.1.running_var" in keys
    assert "base_model.layer3.0.nl.phi.0.weight" in keys
    mobile = MobileNetV2()
    add_mobilenet_shift(mobile, 8)
    keys = set(ReferenceTSN(mobile, 10, 8).state_dict())
    assert "base_model.features.3.conv.0.net.weight" in keys
    assert len(mobile.shifted_blocks()) == 10
