// The Study, Series and SOP Instance UIDs of a Part-10 file, read from its first bytes (file meta,
// then the data set up to (0020,000E)), so that an upload can skip what the server already holds.
// Explicit and implicit VR little endian (every transfer syntax but big endian and deflate).
const IMPLICIT_LE = '1.2.840.10008.1.2';
const UNPARSED = new Set(['1.2.840.10008.1.2.2', '1.2.840.10008.1.2.1.99']);
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);
const UNDEFINED = 0xFFFFFFFF;
const WANTED = { '00080018': 'sop', '0020000D': 'study', '0020000E': 'series' };

class NeedMore extends Error {}

// {study, series, sop}, or null when the file cannot be read this way.
export async function part10Uids(file) {
  for (let size = 64 * 1024; ; size *= 4) {
    const bytes = new Uint8Array(await file.slice(0, size).arrayBuffer());
    try {
      return parse(bytes);
    } catch (error) {
      if (!(error instanceof NeedMore) || size >= file.size) return null;
    }
  }
}

function parse(bytes) {
  const reader = new Reader(bytes);
  let pos = 132;
  let syntax = '';
  while (pos + 8 <= bytes.length && reader.u16(pos) === 0x0002) {
    const element = reader.element(pos, false);
    if (element.tag === '00020010') syntax = reader.text(element.value, element.length);
    pos = element.end;
  }
  if (UNPARSED.has(syntax)) return null;
  const implicit = syntax === IMPLICIT_LE;
  const found = {};
  for (;;) {
    const element = reader.element(pos, implicit);
    if (element.tag > '0020000E') break;
    if (WANTED[element.tag]) found[WANTED[element.tag]] = reader.text(element.value, element.length);
    pos = element.length === UNDEFINED ? reader.skipSequence(element.value, implicit) : element.end;
  }
  return found.study && found.series && found.sop ? found : null;
}

class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  need(end) { if (end > this.bytes.length) throw new NeedMore(); }
  u16(at) { this.need(at + 2); return this.view.getUint16(at, true); }
  u32(at) { this.need(at + 4); return this.view.getUint32(at, true); }
  tag(at) { return (this.u16(at).toString(16).padStart(4, '0') + this.u16(at + 2).toString(16).padStart(4, '0')).toUpperCase(); }

  text(at, length) {
    this.need(at + length);
    return new TextDecoder().decode(this.bytes.subarray(at, at + length)).replace(/[\0 ]+$/, '');
  }

  element(at, implicit) {
    const tag = this.tag(at);
    if (tag.startsWith('FFFE')) return { tag, length: this.u32(at + 4), value: at + 8, end: at + 8 };
    if (implicit) {
      const length = this.u32(at + 4);
      return { tag, length, value: at + 8, end: at + 8 + (length === UNDEFINED ? 0 : length) };
    }
    this.need(at + 6);
    const vr = String.fromCharCode(this.bytes[at + 4], this.bytes[at + 5]);
    if (LONG_VRS.has(vr)) {
      const length = this.u32(at + 8);
      return { tag, length, value: at + 12, end: at + 12 + (length === UNDEFINED ? 0 : length) };
    }
    const length = this.u16(at + 6);
    return { tag, length, value: at + 8, end: at + 8 + length };
  }

  // Items of a sequence of undefined length, up to its delimiter; returns the position after it.
  skipSequence(at, implicit) {
    let pos = at;
    for (;;) {
      const item = this.element(pos, implicit);
      if (item.tag === 'FFFEE0DD') return item.end;
      if (item.length !== UNDEFINED) { pos = item.end + item.length; continue; }
      pos = item.end;
      for (;;) {
        const inner = this.element(pos, implicit);
        if (inner.tag === 'FFFEE00D') { pos = inner.end; break; }
        pos = inner.length === UNDEFINED ? this.skipSequence(inner.value, implicit) : inner.end;
      }
    }
  }
}
