#!/usr/bin/python3
"""Golden values for @cut/trainer's GAN losses and learning-rate schedules.

Run with Debian's PyTorch: `/usr/bin/python3 tools/golden/gan_loss_and_lr.py` (from the repo root).
Writes fixtures/golden/gan_loss_and_lr.json. Deterministic: seeded float32 predictions, 1 thread.

GAN losses (CUT_SPEC section 7), written here with torch's own modules, then `.mean()` as the
reference's callers do: lsgan = nn.MSELoss against a tensor of ones / zeros, vanilla =
nn.BCEWithLogitsLoss against ones / zeros, wgangp = -mean / mean, nonsaturating = softplus(-x) /
softplus(x) averaged per sample (view(bs, -1).mean(1)) and then over the batch. For each: the value
and the gradient of the value with respect to the prediction.

Learning rates (CUT_SPEC section 8): torch.optim.Adam driven by torch.optim.lr_scheduler exactly as
the reference's train loop does — the lr in force while training each epoch of
range(epoch_count, n_epochs + n_epochs_decay + 1), with scheduler.step() at the end of every epoch.
linear = LambdaLR with 1 - max(0, e + epoch_count - n_epochs) / (n_epochs_decay + 1),
step = StepLR(step_size=lr_decay_iters, gamma=0.1), cosine = CosineAnnealingLR(T_max=n_epochs, eta_min=0).
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402

gc.setup(seed=20240620)
OUT = os.path.join(gc.GOLDEN, 'gan_loss_and_lr.json')


def enc(t):
    return gc.enc_floats(t, 'NCHW')


def gan_loss(mode, pred, real):
    if mode == 'lsgan':
        return nn.MSELoss()(pred, torch.ones_like(pred) if real else torch.zeros_like(pred))
    if mode == 'vanilla':
        return nn.BCEWithLogitsLoss()(pred, torch.ones_like(pred) if real else torch.zeros_like(pred))
    if mode == 'wgangp':
        return -pred.mean() if real else pred.mean()
    if mode == 'nonsaturating':
        bs = pred.size(0)
        return (F.softplus(-pred) if real else F.softplus(pred)).view(bs, -1).mean(dim=1).mean()
    raise ValueError(mode)


def gan_cases():
    # Logits of a 2-image batch of 1-channel 5x5 patch maps; a few large ones test the stable forms.
    pred = torch.randn(2, 1, 5, 5) * 3
    pred[0, 0, 0, 0] = 40.0
    pred[1, 0, 4, 4] = -40.0
    out = {'prediction': enc(pred), 'cases': []}
    for mode in ['lsgan', 'vanilla', 'nonsaturating', 'wgangp']:
        for real in [True, False]:
            x = pred.clone().requires_grad_(True)
            loss = gan_loss(mode, x, real)
            grad, = torch.autograd.grad(loss, x)
            out['cases'].append({'gan_mode': mode, 'target_is_real': real, 'loss': loss.item(), 'grad': enc(grad)})
    return out


def lr_run(policy, lr, n_epochs, n_epochs_decay, epoch_count=1, lr_decay_iters=50):
    param = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([param], lr=lr, betas=(0.5, 0.999))
    if policy == 'linear':
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda e: 1.0 - max(0, e + epoch_count - n_epochs) / float(n_epochs_decay + 1))
    elif policy == 'step':
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=lr_decay_iters, gamma=0.1)
    elif policy == 'cosine':
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=n_epochs, eta_min=0)
    else:
        raise ValueError(policy)
    lrs = []
    for epoch in range(epoch_count, n_epochs + n_epochs_decay + 1):
        lrs.append([epoch, opt.param_groups[0]['lr']])
        opt.step()
        sched.step()
    return {'options': {'lr_policy': policy, 'lr': lr, 'n_epochs': n_epochs, 'n_epochs_decay': n_epochs_decay,
                        'epoch_count': epoch_count, 'lr_decay_iters': lr_decay_iters},
            'lr_per_epoch': lrs}


def main():
    out = {
        'meta': {'torch_version': torch.__version__,
                 'what': 'GAN loss values and gradients for each gan_mode; learning rate per epoch under the '
                         'reference training loop for linear, step and cosine policies (see the script docstring).'},
        'gan': gan_cases(),
        'lr': [
            lr_run('linear', 0.0002, 200, 200),
            lr_run('linear', 0.0002, 150, 50),
            lr_run('linear', 0.001, 3, 4, epoch_count=5),
            lr_run('linear', 0.001, 2, 0),
            lr_run('step', 0.0002, 5, 6, lr_decay_iters=3),
            lr_run('step', 0.0002, 4, 4, epoch_count=3, lr_decay_iters=2),
            lr_run('cosine', 0.0002, 4, 7),
        ],
    }
    gc.write_text(OUT, json.dumps(out))


if __name__ == '__main__':
    main()
