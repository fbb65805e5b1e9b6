#!/usr/bin/python3
"""One CUT step's losses and gradients from the reference's own CUTModel (cut_model.py, networks.py,
patchnce.py imported from its checkout at $CUT_REFERENCE, default /work/ref/cut; never copied), for
netD / netF choices the older golden (cut_loss_tiny.json) does not cover.

Usage: /usr/bin/python3 tools/golden/reference_cut_step.py   (writes the files of CASES below)

Per case: the reference's TrainOptions parse the case's flags (CPU, CUT mode: lsgan, nce_idt,
batch 1), CUTModel is built and its data_dependent_initialize run on the inputs (creating netF's
layers), then every Conv/Linear is given PyTorch's default init (nonzero biases; the goldens test the
math, not the initialiser) and one step's computation is recorded: forward, compute_D_loss and its
backward (D's gradients), compute_G_loss with D frozen and its backward (G's and F's gradients), the
losses, fake_B, idt_B, the weights and the patch ids netF drew.

Three adaptations, numerically neutral or forced:
* data_dependent_initialize ends with torch.optim.Adam(netF.parameters()), which raises for a head
  without parameters (sample, reshape, global_pool: the reference cannot train with them either);
  the error is caught (everything the step needs exists by then).
* PyTorch 1.13's CPU instance_norm backward is wrong for a channels-last grad_output (see
  cut_loss_tiny_grads.py), which PatchSampleF's and ReshapeF's permutes produce at G's NCE layers. A
  hook makes the gradient reaching each NCE feature map contiguous (same values, other strides); the
  meta records how far the plain-autograd G gradients are off.
* The reference's CUT cannot call the heads reshape / global_pool / strided_conv (their forward takes
  one map, calculate_NCE_loss passes (feats, num_patches, ids): a TypeError). netF is wrapped to apply
  the reference's head to each level in turn and return no ids; reshape's rows then go to the
  reference's PatchNCELoss unchanged (as @cut/patch-sampler's heads do); strided_conv's (B, 64, h, w)
  maps become rows, one per position, in (b, y, x) order (our head's layout). Its argparse refuses
  --netF strided_conv, so that case parses reshape and builds CUTModel with netF strided_conv; after
  the re-initialisation its running averages restart, and see one data-dependent G loss (kA, qA, kB,
  qB) on the batch before the recorded step.
"""
import gzip
import importlib
import os
import sys
import tempfile
import types

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402

REFERENCE = os.environ.get('CUT_REFERENCE', '/work/ref/cut')
sys.path.insert(0, REFERENCE)
try:
    importlib.import_module('packaging.version')
except ImportError:  # patchnce.py only compares torch's version with it; a minimal stand-in
    packaging = types.ModuleType('packaging')
    version = types.ModuleType('packaging.version')
    version.parse = lambda s: tuple(int(p) for p in s.split('+')[0].split('a')[0].split('.')[:3])
    packaging.version = version
    sys.modules['packaging'] = packaging
    sys.modules['packaging.version'] = version
from options.train_options import TrainOptions  # noqa: E402
from models.cut_model import CUTModel  # noqa: E402

gc.setup()

COMMON = ['--model', 'cut', '--gpu_ids', '-1', '--dataroot', 'unused', '--netG', 'resnet_6blocks', '--ngf', '4', '--ndf', '8',
          '--netF_nc', '16', '--num_patches', '8', '--crop_size', '32', '--load_size', '32', '--batch_size', '1']
CASES = {
    'cut_step_pixel.json.gz': ['--netD', 'pixel'],
    'cut_step_reshape.json.gz': ['--netF', 'reshape'],
    'cut_step_strided_conv.json.gz': ['--netF', 'reshape'],  # made strided_conv below
    # FastCUT (no identity NCE, lambda_NCE 10, flip_equivariance) on a flipped step: its forward's
    # np.random.random() < 0.5 draw is made to come out True (see run).
    'cut_step_fastcut_flipped.json.gz': ['--CUT_mode', 'FastCUT'],
}


class PerLevel(torch.nn.Module):
    """netF for a head that takes one map: the head on each level, no patch ids."""

    def __init__(self, head):
        super().__init__()
        self.head = head

    def forward(self, feats, num_patches=64, patch_ids=None):
        out = [self.head(f) for f in feats]
        # strided_conv's maps (B, 64, h, w) as PatchNCE rows, one per position (b, y, x), as @cut/patch-sampler lays them out.
        out = [o.permute(0, 2, 3, 1).flatten(0, 2) if o.dim() == 4 else o.flatten(1) if o.dim() == 2 else o for o in out]
        return out, [[] for _ in feats]

    def state_dict(self, *args, **kwargs):
        return self.head.state_dict(*args, **kwargs)


def default_init(net):
    for m in net.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear)):
            m.reset_parameters()


def contiguous_grads(model):
    """Wraps netG so that the gradient reaching each encode_only feature map is contiguous."""
    forward = model.netG.forward

    def wrapped(x, layers=[], encode_only=False):
        out = forward(x, layers, encode_only)
        if encode_only:
            for f in out:
                if f.requires_grad:
                    f.register_hook(lambda g: g.contiguous())
        return out
    model.netG.forward = wrapped
    return lambda: setattr(model.netG, 'forward', forward)


def record_ids(model, calls):
    net = model.netF
    forward = net.forward

    def wrapped(feats, num_patches=64, patch_ids=None):
        out, ids = forward(feats, num_patches, patch_ids)
        calls.append({'given': patch_ids is not None, 'ids': [[int(i) for i in level] for level in ids]})
        return out, ids
    net.forward = wrapped


def step(model, data, hook):
    """One step's computation without the optimiser updates: losses and G, D, F gradients."""
    for net in (model.netG, model.netD, model.netF):
        net.zero_grad()
    undo = contiguous_grads(model) if hook else (lambda: None)
    model.set_input(data)
    model.forward()
    model.set_requires_grad(model.netD, True)
    loss_D = model.compute_D_loss()
    loss_D.backward()
    grads_D = {n: p.grad.clone() for n, p in model.netD.named_parameters()}
    model.set_requires_grad(model.netD, False)
    loss_G = model.compute_G_loss()
    loss_G.backward()
    undo()
    grads = lambda net: {n: (p.grad.clone() if p.grad is not None else torch.zeros_like(p)) for n, p in net.named_parameters()}
    losses = {n: float(getattr(model, 'loss_' + n)) for n in model.loss_names}
    return losses, float(loss_D), grads_D, grads(model.netG), grads(model.netF)


def run(flags, strided=False):
    np.random.seed(0)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        opt = TrainOptions(' '.join(COMMON + flags + ['--checkpoints_dir', tmp, '--name', 'golden'])).parse()
        if 'FastCUT' in flags:
            # The reference's modify_commandline_options reads CUT_mode from sys.argv (parse_known_args()),
            # not from the command line given to TrainOptions: its FastCUT defaults, set here.
            opt.nce_idt, opt.lambda_NCE, opt.flip_equivariance = False, 10.0, True
        if strided:
            # Its argparse refuses --netF strided_conv: the parsed options with that name, then the
            # reference's own define_F builds it.
            opt.netF = 'strided_conv'
        model = CUTModel(opt)
    if opt.netF not in ('sample', 'mlp_sample'):
        model.netF = PerLevel(model.netF)
    if opt.flip_equivariance:
        # Every forward flips: the draw np.random.random() < 0.5 in its forward made True (the other
        # np.random draws, netF's patch permutations, are untouched).
        forward = model.forward

        def flipped_forward():
            draw = np.random.random
            np.random.random = lambda *a: 0.25
            try:
                forward()
            finally:
                np.random.random = draw
        model.forward = flipped_forward
    g = torch.Generator().manual_seed(1)
    data = {'A': torch.rand(1, 3, 32, 32, generator=g) * 2 - 1, 'B': torch.rand(1, 3, 32, 32, generator=g) * 2 - 1,
            'A_paths': ['a.png'], 'B_paths': ['b.png']}
    try:
        model.data_dependent_initialize(data)
    except ValueError as e:
        # A head without parameters: the reference's torch.optim.Adam(netF.parameters()) refuses an
        # empty list, after the forward and backward passes that created everything else.
        assert 'empty parameter list' in str(e) and not list(model.netF.parameters()), e
    torch.manual_seed(2)
    for net in (model.netG, model.netD, model.netF):
        default_init(net)
    if strided:
        # Running averages from these weights: started afresh, then the calls of a data-dependent
        # initialisation on the same batch (the G loss's kA, qA, kB, qB, as @cut/trainer's makes them).
        model.netF.head.moving_averages = {}
        with torch.no_grad():
            model.set_input(data)
            model.forward()
            model.compute_G_loss()
    calls = []
    record_ids(model, calls)
    np.random.seed(3)
    losses, loss_D, grads_D, grads_G, grads_F = step(model, data, hook=True)
    ids = calls[:]
    # The same step without the hook (same patch ids): how far plain autograd's G gradients are off
    # (not for strided_conv: a second step would see moved running averages).
    plain_dev = None
    if not strided:
        np.random.seed(3)
        plain = step(model, data, hook=False)
        plain_dev = max((plain[3][n] - grads_G[n]).abs().max().item() for n in grads_G)
    with torch.no_grad():
        fake = model.netG(model.real)
    named = lambda d: [dict(name=n, **gc.enc(t)) for n, t in d.items()]
    return {
        'meta': {'torch_version': torch.__version__,
                 'what': 'reference CUTModel, one step (no optimiser update): losses, fake_B, idt_B and the gradients '
                         'of loss_D (D) and loss_G with D frozen (G, F); PyTorch default init',
                 'flags': COMMON + flags,
                 'plain_autograd_grads_G_max_abs_deviation': plain_dev},
        'flipped': bool(getattr(model, 'flipped_for_equivariance', False)),
        'options': {'CUT_mode': opt.CUT_mode, 'nce_idt': opt.nce_idt, 'lambda_NCE': opt.lambda_NCE, 'netD': opt.netD, 'netF': opt.netF, 'netG': opt.netG, 'ngf': opt.ngf, 'ndf': opt.ndf,
                    'netF_nc': opt.netF_nc, 'num_patches': opt.num_patches, 'nce_layers': opt.nce_layers},
        'inputs': {'real_A': gc.enc(data['A'], 'NCHW'), 'real_B': gc.enc(data['B'], 'NCHW')},
        'weights_G': named(model.netG.state_dict()),
        'weights_D': named(model.netD.state_dict()),
        'weights_F': named(model.netF.state_dict()),
        'netF_calls': ids,
        'fake_B': gc.enc(fake[:1], 'NCHW'),
        'idt_B': gc.enc(fake[1:], 'NCHW'),
        'losses': losses,
        'loss_D_total': loss_D,
        'grads_D': named(grads_D),
        'grads_G': named(grads_G),
        'grads_F': named({n.removeprefix('head.'): t for n, t in grads_F.items()}),
    }


def main():
    for name, flags in CASES.items():
        out = run(flags, strided=name == 'cut_step_strided_conv.json.gz')
        with gzip.GzipFile(os.path.join(gc.GOLDEN, name), 'wb', mtime=0) as f:
            f.write((gc.dumps(out) + '\n').encode('utf8'))
        print(name, out['losses'], 'loss_D', out['loss_D_total'], out['meta']['plain_autograd_grads_G_max_abs_deviation'])


if __name__ == '__main__':
    main()
