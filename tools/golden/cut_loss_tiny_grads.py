#!/usr/bin/python3
"""Correct generator gradients for the reference's CUT loss golden (fixtures/golden/cut_loss_tiny.json).

Run with Debian's PyTorch: `/usr/bin/python3 tools/golden/cut_loss_tiny_grads.py` (from the repo root).
Writes fixtures/golden/cut_loss_tiny_grads_g.json. Deterministic (no random draws), float32, 1 thread.

Why: `grads_G` in cut_loss_tiny.json (reference CUTModel, PyTorch 1.13.1 CPU) is not the gradient of
its own loss_G. PatchSampleF reads each feature map through `feat.permute(0, 2, 3, 1)`, so the
gradient that reaches a feature map is channels-last strided, and PyTorch 1.13's CPU instance_norm
backward returns wrong values for a channels-last grad_output (a contiguous copy of the same
numbers gives the right ones). The NCE features at layers 12 (ResnetBlock output: its last op is
an InstanceNorm) and 16 (an InstanceNorm output) hit this, so every generator weight gradient is
off. The losses, images, D gradients and F gradients of the golden are unaffected.

This script rebuilds the same computation in PyTorch from the reference's description:
G and D from tools/golden/torch_networks.py (checked against the reference goldens by its `check`
command), PatchSampleF and PatchNCELoss written from CUT_SPEC sections 5 and 6, the losses of
section 2.4 (CUT mode, lsgan, nce_idt). It then
  1. reproduces the golden's losses and its (wrong) grads_G with plain autograd — the computation
     is the reference's, bug included;
  2. computes grads_G again with the patches sampled from the (B, C, H·W) view and transposed
     afterwards — the same values, but the gradient reaching every feature map is contiguous (the
     only change) — in float32 (written out) and float64;
  3. checks a few of them against central finite differences of loss_G in float64 (keys held
     fixed, as PatchNCELoss detaches them), which involve no backward pass at all.
A generator whose instance norm is written with elementary ops gives the same gradients as step 2
(to 1e-14 in float64).
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402
import torch_networks as tn  # noqa: E402

gc.setup()
SRC = os.path.join(gc.GOLDEN, 'cut_loss_tiny.json')
OUT = os.path.join(gc.GOLDEN, 'cut_loss_tiny_grads_g.json')
NCE_LAYERS = [0, 4, 8, 12, 16]
NCE_T = 0.07


class Setup:
    """G, D, F weights and inputs of the golden in one dtype."""

    def __init__(self, golden, dtype):
        self.g = golden
        self.G = tn.Generator(ngf=8, n_blocks=2).to(dtype)
        self.D = tn.Discriminator(ndf=8).to(dtype)
        self.G.load_state_dict({w['name']: gc.decode(w, dtype) for w in golden['weights_G']})
        self.D.load_state_dict({w['name']: gc.decode(w, dtype) for w in golden['weights_D']})
        for p in self.D.parameters():
            p.requires_grad_(False)  # D frozen in the G step
        self.F = {w['name']: gc.decode(w, dtype).requires_grad_(True) for w in golden['weights_F']}
        self.A = gc.decode(golden['inputs']['real_A'], dtype)
        self.B = gc.decode(golden['inputs']['real_B'], dtype)
        self.ids_A = golden['netF_calls'][0]['ids']
        self.ids_B = golden['netF_calls'][2]['ids']

    def pool(self, feats, ids, channels_first=False):
        """PatchSampleF (mlp_sample) at given ids. `channels_first` samples the (B, C, H·W) view and
        transposes after sampling: the same values, but the gradient reaching `f` is contiguous."""
        out = []
        for i, f in enumerate(feats):
            if channels_first:
                x = f.flatten(2)[:, :, torch.tensor(ids[i])].permute(0, 2, 1).flatten(0, 1)
            else:
                x = f.permute(0, 2, 3, 1).flatten(1, 2)[:, torch.tensor(ids[i]), :].flatten(0, 1)
            x = F.linear(F.relu(F.linear(x, self.F[f'mlp_{i}.0.weight'], self.F[f'mlp_{i}.0.bias'])),
                         self.F[f'mlp_{i}.2.weight'], self.F[f'mlp_{i}.2.bias'])
            out.append(x / (x.pow(2).sum(dim=1, keepdim=True).pow(0.5) + 1e-7))
        return out

    @staticmethod
    def patch_nce(q, k):
        """PatchNCELoss, negatives from the same image, batch 1; per-row loss."""
        k = k.detach()
        n = q.shape[0]
        l_pos = (q * k).sum(dim=1, keepdim=True)
        l_neg = (q @ k.t()).masked_fill(torch.eye(n, dtype=torch.bool), -10.0)
        logits = torch.cat([l_pos, l_neg], dim=1) / NCE_T
        return F.cross_entropy(logits, torch.zeros(n, dtype=torch.long), reduction='none')

    def keys(self, src, ids):
        """The pooled key features of a source image (detached by PatchNCELoss anyway)."""
        return [k.detach() for k in self.pool(self.G(src, NCE_LAYERS, encode_only=True), ids)]

    def nce(self, src, tgt, ids, contiguous_grads, pooled_k=None):
        feat_q = self.G(tgt, NCE_LAYERS, encode_only=True)
        if pooled_k is None:
            pooled_k = self.keys(src, ids)
        pooled_q = self.pool(feat_q, ids, channels_first=contiguous_grads)
        return sum(self.patch_nce(q, k).mean() for q, k in zip(pooled_q, pooled_k)) / len(NCE_LAYERS)

    def loss_g(self, contiguous_grads, frozen_keys=(None, None)):
        fake = self.G(torch.cat([self.A, self.B], dim=0))
        fake_b, idt_b = fake[:1], fake[1:]
        g_gan = ((self.D(fake_b) - 1) ** 2).mean()
        nce = self.nce(self.A, fake_b, self.ids_A, contiguous_grads, frozen_keys[0])
        nce_y = self.nce(self.B, idt_b, self.ids_B, contiguous_grads, frozen_keys[1])
        return g_gan + 0.5 * (nce + nce_y), {'G_GAN': g_gan, 'NCE': nce, 'NCE_Y': nce_y}

    def grads_g(self, contiguous_grads):
        self.G.zero_grad()
        loss, parts = self.loss_g(contiguous_grads)
        loss.backward()
        return loss, parts, {n: p.grad.detach().clone() for n, p in self.G.named_parameters()}


def max_dev(a, b):
    return max((a[n].double() - b[n].double()).abs().max().item() for n in a)


def main():
    golden = json.load(open(SRC))
    ref = {w['name']: gc.decode(w, torch.float64) for w in golden['grads_G']}

    s32 = Setup(golden, torch.float32)
    loss, parts, plain = s32.grads_g(contiguous_grads=False)
    for name, value in [('G', loss)] + list(parts.items()):
        dev = abs(value.item() - golden['losses'][name]) / abs(golden['losses'][name])
        assert dev < 1e-6, f'loss {name}: {value.item()} vs golden {golden["losses"][name]}'
    reproduced = max_dev(plain, ref)
    assert reproduced < 1e-5, f'plain autograd does not reproduce the golden grads_G ({reproduced})'
    _, _, fixed32 = s32.grads_g(contiguous_grads=True)

    s64 = Setup(golden, torch.float64)
    _, _, fixed64 = s64.grads_g(contiguous_grads=True)
    _, _, plain64 = s64.grads_g(contiguous_grads=False)

    # Central differences of loss_G in float64 for a few weights (no backward pass involved). The
    # keys are held at their unperturbed values: PatchNCELoss detaches them, so the gradient
    # does not see G's influence on the keys, and neither may the difference quotient.
    checks = []
    params = dict(s64.G.named_parameters())
    with torch.no_grad():
        keys = (s64.keys(s64.A, s64.ids_A), s64.keys(s64.B, s64.ids_B))
    for name, index in [('model.1.weight', 0), ('model.12.conv_block.1.weight', 100), ('model.19.weight', 7),
                        ('model.23.weight', 50), ('model.23.bias', 1)]:
        p = params[name]
        flat = p.data.view(-1)
        eps = 1e-5
        with torch.no_grad():
            old = flat[index].item()
            flat[index] = old + eps
            up = s64.loss_g(False, keys)[0].item()
            flat[index] = old - eps
            down = s64.loss_g(False, keys)[0].item()
            flat[index] = old
        fd = (up - down) / (2 * eps)
        checks.append({'name': name, 'index': index, 'finite_difference_f64': fd,
                       'contiguous_grad_f64': fixed64[name].view(-1)[index].item(),
                       'plain_autograd_f64': plain64[name].view(-1)[index].item(),
                       'reference_golden_f32': ref[name].view(-1)[index].item()})
        assert abs(fd - fixed64[name].view(-1)[index].item()) < 1e-6 * max(1.0, abs(fd)), checks[-1]

    out = {
        'meta': {
            'torch_version': torch.__version__,
            'what': 'grads_G of loss_G (D frozen) for the inputs, weights and patch ids of cut_loss_tiny.json, '
                    'computed so that no channels-last gradient reaches PyTorch 1.13 CPU instance_norm backward '
                    '(which is wrong for a channels-last grad_output; the reference golden grads_G carry that '
                    'error). Names and layouts as in cut_loss_tiny.json (OIHW conv weights).',
            'reference_golden_grads_G_max_abs_deviation': max_dev(ref, fixed32),
            'plain_autograd_reproduces_reference_golden_to': reproduced,
            'float32_vs_float64_max_abs_deviation': max_dev(fixed32, fixed64),
            'finite_difference_checks': checks,
        },
        'grads_G': [dict(name=n, **gc.enc(g)) for n, g in fixed32.items()],
    }
    gc.write_text(OUT, gc.dumps(out))
    print(json.dumps(out['meta'], indent=1))


if __name__ == '__main__':
    main()
