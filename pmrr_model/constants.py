"""Constants shared with the reference PMRR/PyMAF code (values must match for checkpoints)."""

FOCAL_LENGTH = 5000.0
IMG_RES = 224
IMG_NORM_MEAN = (0.485, 0.456, 0.406)
IMG_NORM_STD = (0.229, 0.224, 0.225)

SMPL_JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)  # fmt: skip
#: SMPL's kinematic chain from the pelvis to the head (spine1, spine2, spine3, neck, head): the
#: joints whose rotations together make the head's orientation.
SMPL_HEAD_CHAIN = tuple(
    SMPL_JOINT_NAMES.index(n) for n in ("spine1", "spine2", "spine3", "neck", "head")
)

# The 49 joints the reference network outputs: 25 OpenPose joints then the 24 "ground-truth" joints.
JOINT_NAMES = (
    "OP Nose", "OP Neck", "OP RShoulder", "OP RElbow", "OP RWrist", "OP LShoulder",
    "OP LElbow", "OP LWrist", "OP MidHip", "OP RHip", "OP RKnee", "OP RAnkle", "OP LHip",
    "OP LKnee", "OP LAnkle", "OP REye", "OP LEye", "OP REar", "OP LEar", "OP LBigToe",
    "OP LSmallToe", "OP LHeel", "OP RBigToe", "OP RSmallToe", "OP RHeel",
    "Right Ankle", "Right Knee", "Right Hip", "Left Hip", "Left Knee", "Left Ankle",
    "Right Wrist", "Right Elbow", "Right Shoulder", "Left Shoulder", "Left Elbow",
    "Left Wrist", "Neck (LSP)", "Top of Head (LSP)", "Pelvis (MPII)", "Thorax (MPII)",
    "Spine (H36M)", "Jaw (H36M)", "Head (H36M)", "Nose", "Left Eye", "Right Eye",
    "Left Ear", "Right Ear",
)  # fmt: skip

# Index of each of the 49 joints in [smplx SMPL joints (45) + J_regressor_extra joints (9)].
JOINT_MAP = {
    "OP Nose": 24, "OP Neck": 12, "OP RShoulder": 17, "OP RElbow": 19, "OP RWrist": 21,
    "OP LShoulder": 16, "OP LElbow": 18, "OP LWrist": 20, "OP MidHip": 0, "OP RHip": 2,
    "OP RKnee": 5, "OP RAnkle": 8, "OP LHip": 1, "OP LKnee": 4, "OP LAnkle": 7,
    "OP REye": 25, "OP LEye": 26, "OP REar": 27, "OP LEar": 28, "OP LBigToe": 29,
    "OP LSmallToe": 30, "OP LHeel": 31, "OP RBigToe": 32, "OP RSmallToe": 33, "OP RHeel": 34,
    "Right Ankle": 8, "Right Knee": 5, "Right Hip": 45, "Left Hip": 46, "Left Knee": 4,
    "Left Ankle": 7, "Right Wrist": 21, "Right Elbow": 19, "Right Shoulder": 17,
    "Left Shoulder": 16, "Left Elbow": 18, "Left Wrist": 20, "Neck (LSP)": 47,
    "Top of Head (LSP)": 48, "Pelvis (MPII)": 49, "Thorax (MPII)": 50, "Spine (H36M)": 51,
    "Jaw (H36M)": 52, "Head (H36M)": 53, "Nose": 24, "Left Eye": 26, "Right Eye": 25,
    "Left Ear": 28, "Right Ear": 27,
}  # fmt: skip
JOINT_INDICES = tuple(JOINT_MAP[name] for name in JOINT_NAMES)

H36M_TO_J17 = (6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10, 0, 7, 9)
H36M_TO_J14 = H36M_TO_J17[:14]
# The seed's 24 ground-truth joints (the last 24 of JOINT_NAMES): the 14 LSP joints, and the 17
# COCO keypoints in COCO order (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles).
J24_TO_J17 = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 18, 14, 16, 17)
J24_TO_J14 = J24_TO_J17[:14]
J24_TO_JCOCO = (19, 20, 21, 22, 23, 9, 8, 10, 7, 11, 6, 3, 2, 4, 1, 5, 0)

# Reference network hyper-parameters (configs of the released model).
N_ITER = 3
MLP_DIM = (256, 128, 64, 5)
GRID_SIZE = 21
N_DOWNSAMPLED_VERTICES = 431
