#!/usr/bin/python3
"""Image files of every kind the reference's loader accepts, and what PIL decodes them to.

Run with Debian's Python (Pillow 9.4): `/usr/bin/python3 tools/golden/decode_formats.py` from the
repo root. Writes the small files to fixtures/decode/ and fixtures/golden/decode_formats.json.

The reference reads every image with `Image.open(path).convert('RGB')`. Each file here is written by
PIL from a 24x20 crop of a real photo (datasets/horse2zebra_demo), in one format and colour model
(JPEG baseline / progressive / grey / CMYK with and without an Adobe marker / YCCK / ICC-tagged, PNG at
1/2/4/8/16 bits, grey, grey+alpha, palette with and without transparency, RGBA, ICC-tagged, BMP 1/8/24/32-bit,
PPM/PGM binary and ASCII, TIFF RGB / grey / palette / raw, LZW and deflate). For each file the JSON
records its name, what PIL opened it as, and the bytes of `convert('RGB')` (HWC, base64).

16-bit PNG and PGM: PIL's `convert('RGB')` clips 16-bit grey to 255 and keeps the high byte of 16-bit
RGB; @cut/trainer deliberately keeps the 16 bits (see packages/trainer/README.md), so for those files
the JSON also records the 16-bit samples (`samples16`, little-endian base64) our decoder must return.
PIL cannot write the YCCK JPEG, the stray-byte JPEG, the 16-bit RGB PNG or PPM: each is derived from a
PIL-written file or written by a short function below (see its comment); PIL reads all of them.

The ICC-tagged files carry the profile of ../shared/datasets/apple2orange/testA/n07740461_12630.jpg
(an Apple scanner RGB profile, far enough from sRGB that converting through it changes the pixels);
the script stops if that file is absent. Deterministic: a rerun writes identical bytes.
"""
import base64
import hashlib
import io
import json
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
OUT_DIR = os.path.join(ROOT, 'fixtures', 'decode')
OUT_JSON = os.path.join(ROOT, 'fixtures', 'golden', 'decode_formats.json')
PHOTO = os.path.join(ROOT, 'datasets', 'horse2zebra_demo', 'testA', 'n02381460_1000.jpg')
ICC_SOURCE = os.path.join(ROOT, '..', 'shared', 'datasets', 'apple2orange', 'testA', 'n07740461_12630.jpg')
W, H = 24, 20


def strip_app14(data):
    """The JPEG without its Adobe (APP14) segment: libjpeg then reads 4 components as plain CMYK."""
    out = bytearray(data[:2])
    i = 2
    while i < len(data):
        marker = data[i + 1]
        if marker == 0xDA:  # start of scan: the rest is entropy-coded data
            out += data[i:]
            break
        length = (data[i + 2] << 8) | data[i + 3]
        if marker != 0xEE:
            out += data[i:i + 2 + length]
        i += 2 + length
    return bytes(out)


def ycck_jpeg(rgb, save):
    """A YCCK JPEG (Adobe transform 2): PIL cannot write one, so the Y, Cb, Cr and K planes are
    stored through PIL's CMYK encoder (which writes 255 - value) and the Adobe marker's transform
    byte is set to 2, as a YCCK encoder leaves the file. Decoders convert YCC -> CMY themselves."""
    a = np.asarray(rgb.convert('YCbCr'), dtype=np.int32)
    k = np.asarray(rgb.convert('L'), dtype=np.int32)[:, :, None] // 3
    planes = np.concatenate([a, 255 - k], axis=2)  # K stored as YCCK encoders store it (inverted)
    data = bytearray(save(Image.fromarray((255 - planes).astype(np.uint8), 'CMYK'), format='JPEG', quality=92))
    i = 2
    while True:
        marker, length = data[i + 1], (data[i + 2] << 8) | data[i + 3]
        if marker == 0xEE and data[i + 4:i + 9] == b'Adobe':
            data[i + 4 + 11] = 2
            return bytes(data)
        if marker == 0xDA:
            raise RuntimeError('no Adobe marker in the CMYK JPEG')
        i += 2 + length


def junk_before_sos(data):
    """Three stray bytes before the start-of-scan marker: libjpeg warns ("Corrupt JPEG data:
    3 extraneous bytes before marker"), PIL reads the image regardless (ImageNet has such files)."""
    i = data.index(b'\xff\xda')
    return data[:i] + b'\x00\x01\x02' + data[i:]


def png_rgb16(samples):
    """A 16-bit RGB PNG of `samples` (HxWx3 uint16). PIL cannot write one; the chunks are written
    here (IHDR bit depth 16, colour type 2, filter 0 on every row)."""
    h, w, _ = samples.shape

    def chunk(kind, body):
        return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body))

    rows = b''.join(b'\x00' + samples[y].astype('>u2').tobytes() for y in range(h))
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 16, 2, 0, 0, 0))
            + chunk(b'IDAT', zlib.compress(rows, 9)) + chunk(b'IEND', b''))


def ascii_pnm(im, maxval=255):
    """Plain (ASCII) PPM or PGM of an RGB or L image (PIL reads these; it only writes the binary kind)."""
    a = np.asarray(im)
    magic = 'P3' if im.mode == 'RGB' else 'P2'
    values = a.reshape(a.shape[0], -1).astype(np.int64) * maxval // 255
    lines = [magic, '# written by tools/golden/decode_formats.py', f'{im.width} {im.height}', str(maxval)]
    lines += [' '.join(str(int(v)) for v in row) for row in values]
    return ('\n'.join(lines) + '\n').encode('ascii')


def main():
    if not os.path.exists(ICC_SOURCE):
        sys.exit(f'{ICC_SOURCE} is needed for its ICC profile (the shared datasets folder)')
    icc = Image.open(ICC_SOURCE).info['icc_profile']
    photo = Image.open(PHOTO).convert('RGB')
    # A busy 24x20 patch, so every code path sees varied values.
    rgb = photo.crop((100, 100, 100 + W, 100 + H))
    grey = rgb.convert('L')
    rgba = rgb.copy()
    rgba.putalpha(Image.linear_gradient('L').resize((W, H)))
    la = grey.copy()
    la.putalpha(Image.linear_gradient('L').resize((W, H)).transpose(Image.FLIP_LEFT_RIGHT))
    pal = rgb.quantize(colors=200, method=Image.MEDIANCUT, dither=Image.NONE)
    pal16 = rgb.quantize(colors=16, method=Image.MEDIANCUT, dither=Image.NONE)
    pal4 = rgb.quantize(colors=4, method=Image.MEDIANCUT, dither=Image.NONE)
    # PIL's own RGB -> CMYK leaves K at 0; half the grey component moved to K exercises K too.
    cmy = 255 - np.asarray(rgb, dtype=np.int32)
    k = cmy.min(axis=2, keepdims=True) // 2
    cmyk = Image.fromarray(np.concatenate([cmy - k, k], axis=2).astype(np.uint8), 'CMYK')
    bilevel = grey.convert('1')  # Floyd-Steinberg dithered 1-bit
    grey16 = Image.fromarray((np.asarray(grey, dtype=np.uint16) * 257 + 3).astype('<u2'), 'I;16')

    # 16-bit RGB: the 8-bit values spread over 16 bits with a per-channel offset (low bytes vary).
    rgb16 = np.asarray(rgb, dtype=np.uint16) * 257 + np.array([5, 9, 250], dtype=np.uint16)
    rgb16 = np.minimum(rgb16.astype(np.int64), 65535).astype(np.uint16)

    def save(im, **kw):
        buf = io.BytesIO()
        im.save(buf, **kw)
        return buf.getvalue()

    cmyk_adobe = save(cmyk, format='JPEG', quality=92)
    files = [
        ('jpeg_baseline.jpg', save(rgb, format='JPEG', quality=90)),
        ('jpeg_baseline_444.jpg', save(rgb, format='JPEG', quality=95, subsampling=0)),
        ('jpeg_progressive.jpg', save(rgb, format='JPEG', quality=85, progressive=True)),
        ('jpeg_grey.jpg', save(grey, format='JPEG', quality=90)),
        ('jpeg_cmyk_adobe.jpg', cmyk_adobe),  # libjpeg writes an Adobe marker; PIL stores CMYK inverted
        ('jpeg_cmyk_plain.jpg', strip_app14(cmyk_adobe)),  # no Adobe marker: read as non-inverted CMYK
        ('jpeg_ycck.jpg', ycck_jpeg(rgb, save)),
        ('jpeg_warning.jpg', junk_before_sos(save(rgb, format='JPEG', quality=90))),
        ('jpeg_icc.jpg', save(rgb, format='JPEG', quality=90, icc_profile=icc)),
        ('png_rgb.png', save(rgb, format='PNG')),
        ('png_rgba.png', save(rgba, format='PNG')),
        ('png_grey.png', save(grey, format='PNG')),
        ('png_grey_alpha.png', save(la, format='PNG')),
        ('png_grey_trns.png', save(grey, format='PNG', transparency=int(np.asarray(grey)[0, 0]))),
        ('png_rgb_trns.png', save(rgb, format='PNG', transparency=tuple(int(v) for v in np.asarray(rgb)[0, 0]))),
        ('png_palette.png', save(pal, format='PNG')),
        ('png_palette_trns.png', save(pal, format='PNG', transparency=bytes(range(0, 250, 5)))),
        ('png_palette_4bit.png', save(pal16, format='PNG', bits=4)),
        ('png_palette_2bit.png', save(pal4, format='PNG', bits=2)),
        ('png_1bit.png', save(bilevel, format='PNG')),
        ('png_icc.png', save(rgb, format='PNG', icc_profile=icc)),
        ('png_grey_16bit.png', save(grey16, format='PNG')),
        ('png_rgb_16bit.png', png_rgb16(rgb16)),
        ('bmp_24bit.bmp', save(rgb, format='BMP')),
        ('bmp_32bit.bmp', save(rgba, format='BMP')),
        ('bmp_8bit_palette.bmp', save(pal, format='BMP')),
        ('bmp_8bit_grey.bmp', save(grey, format='BMP')),
        ('bmp_1bit.bmp', save(bilevel, format='BMP')),
        ('ppm_binary.ppm', save(rgb, format='PPM')),
        ('pgm_binary.pgm', save(grey, format='PPM')),
        ('ppm_ascii.ppm', ascii_pnm(rgb)),
        ('pgm_ascii.pgm', ascii_pnm(grey)),
        ('ppm_ascii_maxval100.ppm', ascii_pnm(rgb, 100)),  # PIL rescales to 0..255
        ('pgm_binary_16bit.pgm', save(grey16.convert('I'), format='PPM')),
        # PIL cannot write 16-bit RGB PPM; PIL reads it as 8-bit RGB, round(v / 65535 * 255).
        ('ppm_binary_16bit.ppm', f'P6\n{W} {H}\n65535\n'.encode('ascii') + rgb16.astype('>u2').tobytes()),
        ('tiff_rgb.tif', save(rgb, format='TIFF')),
        ('tiff_rgb_lzw.tiff', save(rgb, format='TIFF', compression='tiff_lzw')),
        ('tiff_rgb_deflate.tif', save(rgb, format='TIFF', compression='tiff_adobe_deflate')),
        ('tiff_rgba.tif', save(rgba, format='TIFF', compression='tiff_lzw')),
        ('tiff_grey.tif', save(grey, format='TIFF', compression='tiff_lzw')),
        ('tiff_palette.tif', save(pal, format='TIFF', compression='tiff_adobe_deflate')),
        ('tiff_1bit.tif', save(bilevel, format='TIFF')),
        ('tiff_cmyk.tif', save(cmyk, format='TIFF', compression='tiff_lzw')),
    ]
    os.makedirs(OUT_DIR, exist_ok=True)
    cases = []
    for name, data in files:
        path = os.path.join(OUT_DIR, name)
        with open(path, 'wb') as f:
            f.write(data)
        # Exactly the reference's read (data/unaligned_dataset.py).
        opened = Image.open(path)
        mode, fmt = opened.mode, opened.format
        out = np.asarray(opened.convert('RGB'))
        assert out.shape == (H, W, 3), (name, out.shape)
        case = {
            'file': name,
            'format': fmt,
            'pil_mode': mode,
            'width': W,
            'height': H,
            'rgb': base64.b64encode(out.tobytes()).decode('ascii'),
        }
        if mode == 'I' or mode.startswith('I;16'):  # 16-bit grey PNG or PGM
            case['samples16'] = base64.b64encode(np.asarray(opened, dtype='<u2').tobytes()).decode('ascii')
        elif name == 'png_rgb_16bit.png':  # PIL keeps the high bytes only; these are the samples
            case['samples16'] = base64.b64encode(rgb16.astype('<u2').tobytes()).decode('ascii')
        cases.append(case)
    # Damaged files PIL refuses (so must we): truncated JPEG and PNG, a JPEG with its entropy-coded
    # data overwritten. Not listed with the readable cases; named `refused_*`.
    good_jpeg, good_png = dict(files)['jpeg_baseline.jpg'], dict(files)['png_rgb.png']
    garbled = bytearray(good_jpeg)
    for i in range(len(garbled) * 2 // 3, len(garbled) - 2, 7):
        garbled[i] = 0xFF
    refused = []
    for name, data in [('refused_truncated.jpg', good_jpeg[:len(good_jpeg) * 2 // 3]),
                       ('refused_garbled.jpg', bytes(garbled)),
                       ('refused_truncated.png', good_png[:len(good_png) * 2 // 3])]:
        path = os.path.join(OUT_DIR, name)
        with open(path, 'wb') as f:
            f.write(data)
        try:
            Image.open(path).convert('RGB')
        except OSError as e:
            refused.append({'file': name, 'pil_error': str(e)})
        else:
            sys.exit(f'{name}: PIL read it; it was meant to be a file PIL refuses')

    # The ICC-tagged photo of the shared dataset itself: too big to commit, so its hash and first row.
    shared = np.asarray(Image.open(ICC_SOURCE).convert('RGB'))
    shared_case = {
        'path': '../shared/datasets/apple2orange/testA/n07740461_12630.jpg',
        'width': int(shared.shape[1]),
        'height': int(shared.shape[0]),
        'rgb_sha256': hashlib.sha256(shared.tobytes()).hexdigest(),
        'first_row': [int(v) for v in shared[0].ravel()],
    }
    doc = {
        'what': "PIL's Image.open(f).convert('RGB') of each file in fixtures/decode/ (HWC uint8, base64)",
        'pillow': Image.__version__,
        'source_photo': os.path.relpath(PHOTO, ROOT),
        'cases': cases,
        'refused': refused,
        'shared_icc_jpeg': shared_case,
    }
    with open(OUT_JSON, 'w') as f:
        json.dump(doc, f, indent=1)
        f.write('\n')
    print(f'{len(cases)} files in {OUT_DIR}, expected pixels in {OUT_JSON}')


if __name__ == '__main__':
    main()
