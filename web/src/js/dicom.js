// Reading DICOM JSON (PS3.18 F.2) answers of QIDO, and shaping values for display.
export const TAGS = {
  StudyInstanceUID: '0020000D', SeriesInstanceUID: '0020000E', SOPInstanceUID: '00080018',
  PatientName: '00100010', PatientID: '00100020', StudyDate: '00080020', StudyTime: '00080030',
  StudyDescription: '00081030', AccessionNumber: '00080050', ModalitiesInStudy: '00080061',
  Modality: '00080060', SeriesDescription: '0008103E', SeriesNumber: '00200011',
  NumberOfStudyRelatedSeries: '00201206', NumberOfStudyRelatedInstances: '00201208',
  NumberOfSeriesRelatedInstances: '00201209', Favorite: '00012345', Comments: '00012346',
};

export function values(item, keyword) {
  return item?.[TAGS[keyword] || keyword]?.Value || [];
}

export function text(item, keyword) {
  const value = values(item, keyword)[0];
  if (value === undefined || value === null) return '';
  if (typeof value === 'object') return value.Alphabetic || '';
  return String(value);
}

export function personName(item, keyword = 'PatientName') {
  return text(item, keyword).replace(/\^+/g, ' ').trim();
}

export function date(item, keyword = 'StudyDate') {
  const raw = text(item, keyword);
  return /^\d{8}$/.test(raw) ? `${raw.slice(0, 4)}-${raw.slice(4, 6)}-${raw.slice(6, 8)}` : raw;
}

export function number(item, keyword) {
  const raw = text(item, keyword);
  return raw === '' ? '' : Number(raw);
}

export function isFavorite(item) {
  const raw = text(item, 'Favorite');
  return raw === 'true' || Number(raw) > 0;
}

// A Part-10 file has "DICM" at byte 128; anything else in a dropped folder is skipped.
export async function isPart10(file) {
  if (file.size < 132) return false;
  const magic = new Uint8Array(await file.slice(128, 132).arrayBuffer());
  return String.fromCharCode(...magic) === 'DICM';
}
