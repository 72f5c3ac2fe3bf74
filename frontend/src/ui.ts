/* Small view-only state shared by components (not meeting state: that is the store's). */
import { signal } from "@preact/signals";

export interface Toast {
  id: number;
  text: string;
}

/** Refusals and failures to show; each disappears after a while or when dismissed. */
export const toasts = signal<Toast[]>([]);
let toastId = 0;

export function showToast(text: string, ms = 6000) {
  toastId += 1;
  const id = toastId;
  toasts.value = [...toasts.value.slice(-2), { id, text }];
  setTimeout(() => dismissToast(id), ms);
}

export function dismissToast(id: number) {
  toasts.value = toasts.value.filter((t) => t.id !== id);
}

/** The current polite announcement (aria-live) and a key that changes with each one. */
export const announcement = signal<{ key: number; text: string }>({ key: 0, text: "" });

/** A ticking clock (ms), only while someone shows a running timer. */
export const tick = signal(Date.now());
let tickers = 0;
let tickTimer: ReturnType<typeof setInterval> | null = null;
export function startTicking(): () => void {
  tickers += 1;
  if (!tickTimer) tickTimer = setInterval(() => (tick.value = Date.now()), 250);
  return () => {
    tickers -= 1;
    if (tickers === 0 && tickTimer) {
      clearInterval(tickTimer);
      tickTimer = null;
    }
  };
}

/** The idea a facilitator is dragging onto a theme (null when none). */
export const dragIdea = signal<number | null>(null);
