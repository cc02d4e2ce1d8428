// The sound cue of an urgent or critical alert: a short beep made with WebAudio (no audio
// file), which the person can mute from the inbox; the choice is kept in this browser.
const KEY = 'vw-sound-muted';
let ctx = null;

/** Whether the cue is muted. */
export function muted() {
  return localStorage.getItem(KEY) === '1';
}

/** Mutes or unmutes the cue. */
export function setMuted(m) {
  localStorage.setItem(KEY, m ? '1' : '0');
}

/** Browsers start audio only after a gesture: call this from a click or key press. */
export function unlock() {
  try {
    if (!ctx) ctx = new AudioContext();
    if (ctx.state === 'suspended') ctx.resume();
  } catch {
    ctx = null;
  }
}

/** Plays the cue: two short tones for critical, one for urgent. Returns whether it played. */
export function beep(severity) {
  if (muted()) return false;
  try {
    if (!ctx) ctx = new AudioContext();
    if (ctx.state === 'suspended') ctx.resume();
    const tones = severity === 'critical' ? [0, 0.25] : [0];
    for (const start of tones) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = 'sine';
      osc.frequency.value = severity === 'critical' ? 880 : 660;
      const t0 = ctx.currentTime + start;
      gain.gain.setValueAtTime(0.0001, t0);
      gain.gain.exponentialRampToValueAtTime(0.25, t0 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.18);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0);
      osc.stop(t0 + 0.2);
    }
    return true;
  } catch {
    return false;
  }
}
