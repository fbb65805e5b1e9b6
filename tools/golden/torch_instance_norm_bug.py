"""Shows the PyTorch 1.13 (CPU) instance-norm backward bug that makes grads_G of cut_loss_tiny.json wrong.

When the gradient reaching InstanceNorm2d arrives through PatchSampleF's permute + index (a
channels-last strided gradient), torch 1.13 on CPU returns a wrong input gradient; the same
values taken through a contiguous view, and a float64 evaluation, agree with each other.
Run: /usr/bin/python3 tools/golden/torch_instance_norm_bug.py (prints max differences).
"""
import torch
torch.manual_seed(0)
for (C,H,W) in [(32,8,8),(16,16,16),(4,5,6),(64,16,16)]:
  for dt in [torch.float32]:
    x = torch.randn(1, C, H, W, dtype=dt)
    ids = torch.randperm(H*W)[:8]
    norm = torch.nn.InstanceNorm2d(C)
    def grad(mode):
        xx = x.clone().requires_grad_(True)
        y = norm(xx)
        if mode == 'perm':
            z = y.permute(0, 2, 3, 1).flatten(1, 2)[:, ids, :].flatten(0, 1)
        else:
            z = y.flatten(2)[:, :, ids].permute(0, 2, 1).flatten(0, 1)
        w = torch.sin(torch.arange(z.numel(), dtype=dt)).reshape(z.shape)
        g, = torch.autograd.grad((z * w).sum(), xx)
        return g
    g1, g2 = grad('perm'), grad('view')
    x64 = x.double().requires_grad_(True)
    y = torch.nn.functional.instance_norm(x64, eps=1e-5)
    z = y.flatten(2)[:, :, ids].permute(0, 2, 1).flatten(0, 1)
    w = torch.sin(torch.arange(z.numel(), dtype=torch.float64)).reshape(z.shape)
    g3, = torch.autograd.grad((z*w).sum(), x64)
    print((C,H,W), 'perm vs view', (g1-g2).abs().max().item(), 'perm vs f64', (g1.double()-g3).abs().max().item(), 'view vs f64', (g2.double()-g3).abs().max().item())
