//! What publish and import both add to a library: the ContentLibraryItem, ready, and the
//! VirtualMachineImage named by the `vmi-` rule that points at it.

use super::{api_err, CtlError};
use crate::catalog::Gr;
use crate::error::ApiError;
use crate::store::Store;

/// A ContentLibraryItem a controller adds to a library (publish and import both do).
pub(crate) struct NewLibraryItem<'a> {
    pub ns: &'a str,
    /// Resource name (`clitem-…`).
    pub res: &'a str,
    pub uuid: &'a str,
    pub library: &'a str,
    /// Display name.
    pub name: &'a str,
    pub description: Option<&'a str>,
    /// `OVF` or `ISO`.
    pub item_type: &'a str,
    pub size: u64,
}

/// Creates the item, ready, the way the image-registry operator reports a synced item.
pub(crate) fn create_library_item(
    store: &Store,
    item: &NewLibraryItem<'_>,
) -> Result<(), CtlError> {
    use vmop_types::api as k;
    let now = crate::store::now_rfc3339();
    let mut status = serde_json::json!({
        "name": item.name,
        "type": item.item_type,
        "contentLibraryRef": {"kind": "ContentLibrary", "name": item.library},
        "sizeInBytes": item.size.to_string(),
        "cached": true,
        "contentVersion": "1",
        "metadataVersion": "1",
        "creationTime": now,
        "lastModifiedTime": now,
        "securityCompliance": true,
        "conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "message": "", "lastTransitionTime": now}],
    });
    if let Some(d) = item.description {
        status["description"] = serde_json::json!(d);
    }
    let obj = serde_json::json!({
        "apiVersion": k::CONTENT_LIBRARY_ITEM.api_version(k::CONTENT_LIBRARY_ITEM.hub_version()),
        "kind": "ContentLibraryItem",
        "metadata": {"name": item.res, "namespace": item.ns},
        "spec": {"id": item.uuid, "libraryName": item.library},
        "status": status,
    });
    store
        .create(
            &Gr::from(&k::CONTENT_LIBRARY_ITEM),
            Some(item.ns),
            obj,
            &crate::store::WriteOptions::default(),
        )
        .map_err(api_err(
            "creating ContentLibraryItem",
            format!("{}/{}", item.ns, item.res),
        ))?;
    Ok(())
}

/// The VirtualMachineImage a controller makes for a new library item (publish and import both
/// do): named by the `vmi-` rule, owned by and pointing at the item.
pub(crate) struct NewItemImage<'a> {
    pub ns: &'a str,
    /// The ContentLibraryItem's resource name (`clitem-…`).
    pub item_res: &'a str,
    /// The item's id, which names the image.
    pub uuid: &'a str,
    /// Display name.
    pub name: &'a str,
    /// `OVF` or `ISO`.
    pub item_type: &'a str,
    /// Annotations besides the display name.
    pub annotations: serde_json::Map<String, serde_json::Value>,
    /// Status fields that replace or add to the defaults (`firmware`, `osInfo`, ...).
    pub status: serde_json::Map<String, serde_json::Value>,
}

/// Creates the image, ready; one that exists already (a library sync made it) is fine.
/// Returns its name.
pub(crate) fn create_item_image(store: &Store, img: NewItemImage<'_>) -> Result<String, CtlError> {
    use serde_json::json;
    use vmop_types::api as k;
    let vmi = vmop_types::naming::vmi_name_for_item(img.uuid);
    let item_uid = store
        .get_arc(
            &Gr::from(&k::CONTENT_LIBRARY_ITEM),
            Some(img.ns),
            img.item_res,
        )
        .ok()
        .and_then(|i| {
            i.pointer("/metadata/uid")
                .and_then(|u| u.as_str())
                .map(String::from)
        })
        .unwrap_or_default();
    let now = crate::store::now_rfc3339();
    let mut annotations = img.annotations;
    annotations.insert(
        vmop_types::naming::ANNOTATION_DISPLAY_NAME.to_string(),
        json!(img.name),
    );
    let mut status = json!({
        "name": img.name,
        "type": img.item_type,
        "providerItemID": img.uuid,
        "providerContentVersion": "1",
        "firmware": "efi",
        "hardwareVersion": 19,
        "conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "message": "", "lastTransitionTime": now}],
    });
    for (key, v) in img.status {
        status[key] = v;
    }
    let item_api = k::CONTENT_LIBRARY_ITEM.api_version(k::CONTENT_LIBRARY_ITEM.hub_version());
    let obj = json!({
        "apiVersion": k::VIRTUAL_MACHINE_IMAGE.api_version(k::VIRTUAL_MACHINE_IMAGE.hub_version()),
        "kind": "VirtualMachineImage",
        "metadata": {
            "name": vmi,
            "namespace": img.ns,
            "labels": {vmop_types::naming::LABEL_IMAGE_TYPE: img.item_type},
            "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": item_api,
                "kind": "ContentLibraryItem",
                "name": img.item_res,
                "uid": item_uid,
                "controller": true,
            }],
        },
        "spec": {"providerRef": {"apiVersion": item_api, "kind": "ContentLibraryItem", "name": img.item_res}},
        "status": status,
    });
    match store.create(
        &Gr::from(&k::VIRTUAL_MACHINE_IMAGE),
        Some(img.ns),
        obj,
        &crate::store::WriteOptions::default(),
    ) {
        Ok(_) | Err(ApiError { code: 409, .. }) => Ok(vmi),
        Err(e) => Err(api_err(
            "creating VirtualMachineImage",
            format!("{}/{vmi}", img.ns),
        )(e)),
    }
}
