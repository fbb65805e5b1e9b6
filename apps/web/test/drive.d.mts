// Types of drive.mjs (plain JavaScript, so that bench/web.mjs runs it under plain node).
import type { Page } from 'playwright-core';
export const DIST: string;
export const CHROMIUM: string;
export const WEBGPU_ARGS: string[];
export const ISOLATION_HEADERS: Record<string, string>;
export function serveStatic(dir?: string, options?: { isolated?: boolean }): Promise<{ url: string; close(): Promise<void> }>;
export function openPage(options: {
  url: string;
  webgpu?: boolean;
  viewport?: { width: number; height: number };
}): Promise<{ page: Page; logs: string[]; close(): Promise<void> }>;
export function hasWebGpuAdapter(page: Page): Promise<boolean>;
export function chooseBackend(page: Page, backend: string): Promise<string | null>;
export function chooseRuntime(
  page: Page,
  runtime: 'auto' | 'tfjs' | 'onnx',
): Promise<{ runtime: string | null; threads: number; text: string | null }>;
export function loadGenerator(page: Page, files: string[]): Promise<string | null>;
export function translate(
  page: Page,
  imageFile: string,
  outFile: string,
  timeout?: number,
): Promise<{ ms: number; backend: string | null; runtime: string | null; threads: number; name: string }>;
